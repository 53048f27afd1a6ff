"""The `gatosuite` command line: one typed dataclass per subcommand, whose field docstrings are --help.

Each subcommand is a dataclass with a `run()` method; tyro builds the parser from it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tyro

os.environ.setdefault("MUJOCO_GL", "egl")  # before anything imports mujoco or dm_control


@dataclass
class Tokenize:
    """Print a Gymnasium env's token spec and the tokens of its first timesteps, with kinds."""

    env: str = "CartPole-v1"
    """Gymnasium env id to read the observation and action spaces from."""
    steps: int = 1
    """Timesteps to tokenize (random actions)."""
    seed: int = 0
    """Seed for reset() and the action space."""
    text_vocab: int = 4096
    """SentencePiece vocabulary size (used only by envs with Text observations)."""
    limit: int = 200
    """Print at most this many tokens."""

    def run(self) -> None:
        import gymnasium as gym

        from gatosuite.tokenization import Tokenizer, default_text_model
        from gatosuite.tokenization.debug import dump_sequence
        from gatosuite.tokenization.spec import TokenKind
        from gatosuite.tokenization.stacking import stack_timesteps

        try:
            env = gym.make(self.env)
        except gym.error.Error as e:
            raise SystemExit(f"error: cannot make env '{self.env}': {e}") from None
        tok = Tokenizer.from_spaces(env.observation_space, env.action_space)
        if TokenKind.TEXT in tok.spec.modalities:
            tok = Tokenizer(tok.spec, text_model=default_text_model(self.text_vocab))
        env.action_space.seed(self.seed)
        obs, _ = env.reset(seed=self.seed)
        observations, actions = [obs], []
        for _ in range(self.steps):
            actions.append(env.action_space.sample())
            obs, *_ = env.step(actions[-1])
            observations.append(obs)
        env.close()
        seq = tok.encode_episode(stack_timesteps(observations[:-1]), stack_timesteps(actions))
        print(f"env {self.env}\n{tok.spec.describe()}\n")
        print(dump_sequence(tok, seq, self.limit))


@dataclass
class TextModelCmd:
    """Train (or fetch from cache) the SentencePiece text model on the default offline corpus."""

    out: Path = Path("runs/text-model")
    """Directory to write tokenizer.model into."""
    vocab: int = 4096
    """Text vocabulary size (Gato used 32000)."""
    txt: list[Path] = field(default_factory=list)
    """Extra .txt files to add to the corpus."""
    no_stdlib: bool = False
    """Leave the Python standard library's docstrings out of the corpus."""

    def run(self) -> None:
        from gatosuite.tokenization import default_text_model

        model = default_text_model(self.vocab, self.txt, include_stdlib=not self.no_stdlib)
        path = model.save(self.out)
        note = "" if model.vocab_size == self.vocab else f"; asked for {self.vocab}, the corpus supports no more"
        print(f"wrote {path} ({model.vocab_size} pieces{note}, sha256 {model.fingerprint[:12]})")


@dataclass
class Demo:
    """The main job. Until the agent lands, a walkthrough of the tokenizer on three kinds of task."""

    text_vocab: int = 4096
    """SentencePiece vocabulary size."""

    def run(self) -> None:
        from gatosuite.tokenization.walkthrough import walkthrough

        walkthrough(self.text_vocab)


COMMANDS = {"tokenize": Tokenize, "text-model": TextModelCmd, "demo": Demo}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gatosuite` console script and of `python -m gatosuite`."""
    cmd = tyro.extras.subcommand_cli_from_dict(
        COMMANDS, prog="gatosuite", description=__doc__.splitlines()[0], args=argv
    )
    cmd.run()


if __name__ == "__main__":
    main(sys.argv[1:])
