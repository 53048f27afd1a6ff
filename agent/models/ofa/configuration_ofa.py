"""OFAConfig: the encoder-decoder's shape, its presets, and the natural-language instruction of each task.

OFA (Wang et al. 2022) states every task as an instruction in words ("what does the image describe?")
that opens the encoder's input. Here the instruction of a task is written from the task registry
(`instruction_text`), tokenized with the run's SentencePiece model when the run starts (`prepared`), and
kept in the config as token ids, so a checkpoint carries the exact instructions it was trained with.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from gatosuite.agent.models.gato.configuration_gato import GatoConfig
from gatosuite.errors import ConfigError

GENERIC_INSTRUCTION = "what is the next action?"
"""The instruction of a task outside the model's vocabulary (task index -1): it names no task."""


def instruction_text(task_id: str) -> str:
    """The natural-language instruction of a task, from the task registry, in OFA's style (a question
    about the input): "<domain> task <id in words>: what is the next action?". The id comes first, so an
    instruction cut at max_instruction_tokens keeps what tells tasks apart; a leading domain name in the
    id is not repeated ("babyai-gotolocal" -> "babyai task gotolocal"). A BabyAI level adds that its
    mission, in the observation, is the goal; a caption set asks OFA's captioning question; a text corpus
    asks for the continuation. A name the registry does not know gets GENERIC_INSTRUCTION."""
    from gatosuite.envs import SUITE

    if task_id not in SUITE:
        return GENERIC_INSTRUCTION
    task = SUITE[task_id]
    if task.domain == "caption":
        return "what does the image describe?"
    if task.domain == "text":
        return "what is the continuation of the text?"
    name = task.id.removeprefix(f"{task.domain}-")
    words = name.replace("-", " ").replace("_", " ")
    if task.domain == "babyai":
        return f"babyai task {words}: follow the mission in the observation. what is the next action?"
    return f"{task.domain} task {words}: what is the next action?"


@dataclass(frozen=True)
class OFAConfig(GatoConfig):
    """Shape of an OFA-style encoder-decoder over the unified vocabulary. GatoConfig's `n_layer` is the
    number of encoder blocks; `n_dec_layer` the decoder's. `n_head`, `n_embd`, `ffn` and `dropout` are
    shared by both stacks, as in OFA."""

    architecture: ClassVar[str] = "ofa"
    n_dec_layer: int = 3
    """Decoder blocks (causal self-attention, cross-attention over the encoder, FFN)."""
    tasks: tuple[str, ...] = ()
    """The task vocabulary, filled by `ModelFamily.prepare` with the run's tasks; `instructions` aligns
    with it, and a TokenBatch's `task_index` refers to it."""
    instructions: tuple[tuple[int, ...], ...] = ()
    """Token ids of each task's instruction (`instruction_text`, tokenized by the run's text model), in
    `tasks` order; empty until `prepared`."""
    generic_instruction: tuple[int, ...] = ()
    """Token ids of GENERIC_INSTRUCTION, given to a task outside `tasks` (index -1)."""
    max_instruction_tokens: int = 32
    """Longest instruction, in tokens (longer ones are cut); rows of the instruction position table."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_dec_layer < 1:
            raise ConfigError(f"OFAConfig.n_dec_layer must be positive, got {self.n_dec_layer}")
        if self.max_instruction_tokens < 1:
            raise ConfigError(f"OFAConfig.max_instruction_tokens must be positive, got {self.max_instruction_tokens}")
        if self.instructions and len(self.instructions) != len(self.tasks):
            raise ConfigError(f"OFAConfig has {len(self.instructions)} instructions for {len(self.tasks)} tasks; "
                              "build them with `prepared(text_model)` after the tasks are set")
        for ids in (*self.instructions, self.generic_instruction):
            if len(ids) > self.max_instruction_tokens:
                raise ConfigError(f"an instruction of {len(ids)} tokens is longer than max_instruction_tokens="
                                  f"{self.max_instruction_tokens}; raise it or shorten the instruction")
            if any(not 0 <= i < self.vocab_size for i in ids):
                raise ConfigError(f"instruction ids {ids} fall outside the vocabulary of {self.vocab_size}; "
                                  "tokenize them with the run's text model")

    @property
    def n_layers(self) -> int:
        """Blocks in both stacks together."""
        return self.n_layer + self.n_dec_layer

    def prepared(self, text_model: Any) -> OFAConfig:
        """This config with every task's instruction (and the generic one) tokenized by `text_model`. A
        config that already holds instructions for its tasks (a checkpoint being fine-tuned) keeps them:
        its weights were trained on those ids."""
        if text_model is None or (self.instructions and self.generic_instruction):
            return self
        texts = [instruction_text(t) for t in self.tasks] + [GENERIC_INSTRUCTION]
        ids = [tuple(x[:self.max_instruction_tokens]) for x in text_model.encode(texts)]
        return replace(self, instructions=tuple(ids[:-1]), generic_instruction=ids[-1])


OFA_PRESETS: dict[str, dict[str, Any]] = {
    # 3+3 blocks of width 128: an encoder token passes 3 blocks and a decoder token 3 (with cross-attention),
    # about the 4 blocks each token of Gato nano passes (docs/reference/models/ofa.md: measured costs)
    "nano": dict(n_layer=3, n_dec_layer=3, n_head=4, n_embd=128, ffn=512, context=512),
    # OFA's ofa_tiny shape: width 256, 4 encoder and 4 decoder blocks, 4 heads, FFN 1024
    "tiny": dict(n_layer=4, n_dec_layer=4, n_head=4, n_embd=256, ffn=1024, context=512),
}
