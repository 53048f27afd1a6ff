"""The arguments of `gatosuite train` (`TrainArgs`), apart from the trainer so that the command line can
build its parser, and print --help, without importing torch or the simulators. agent/train.py runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import tyro

from gatosuite.errors import ConfigError

from . import recipes
from .defaults import default_device, default_precision


@dataclass
class TrainArgs:
    """Train one model on a mix of tasks (`gatosuite train`), by a recipe (agent/recipes.py)."""

    tasks: str = "train"
    """Task selector (ids, tags, 'train'); env tasks need a collected dataset under --root."""
    root: Path = Path("data")
    """Where `gatosuite collect` put datasets and token caches."""
    out: Path = Path("runs/train")
    """Run folder: checkpoint/, train.csv, tensorboard/."""
    model: str = "gato"
    """Model family (agent/families.py): gato, gato-moe, moe, limoe (contrastive: trains on the (image, text)
    pairs of the mix, e.g. babyai-captions). Each consumes the same token batches."""
    preset: str = "nano"
    """The family's preset: nano (every family has one, sized for a CPU), tiny, small, ..."""
    window: int = 256
    """Tokens per training window (the model's context)."""
    batch_size: int = 16
    """Windows per optimizer step."""
    lr: float = 1e-3
    """Peak learning rate."""
    min_lr_ratio: float = 0.1
    """Cosine decay ends at lr * min_lr_ratio."""
    warmup: int = 100
    """Linear warmup steps."""
    steps: int = 2000
    """Optimizer steps (the cosine schedule's length); replaced by the fitted length with --fit-schedule."""
    minutes: float | None = None
    """Stop after this many minutes even if --steps is not reached."""
    fit_schedule: bool = False
    """With --minutes: measure the step rate over the first steps and set the schedule's length so that it
    ends inside the budget (re-measured once at half the budget). The fitted length is recorded and kept
    on --resume."""
    weight_decay: float = 0.1
    """AdamW weight decay on matrices (not on norms, biases or embeddings)."""
    grad_clip: float = 1.0
    """Clip the global gradient norm."""
    precision: str = field(default_factory=default_precision)
    """auto, fp32 or bf16. auto: bf16 on a GPU that supports it, or on a CPU where bf16 autocast is
    measured faster than fp32 (AMX); fp32 otherwise (AVX2 CPUs, where bf16 is ~100x slower)."""
    device: str = field(default_factory=default_device)
    """auto, cpu or cuda. auto: this process's GPU (LOCAL_RANK under torchrun) when CUDA is available."""
    compile: bool = False
    """torch.compile the model (first compile takes ~15-25 s)."""
    seed: int = 0
    """Seed for weights, sampling and dropout."""
    log_every: int = 20
    """Steps between log rows."""
    val_every: int = 200
    """Steps between validation NLL measurements (0: never)."""
    val_batches: int = 4
    """Batches per validation measurement."""
    ckpt_every: int = 200
    """Steps between checkpoints (one is always written at the end)."""
    resume: bool = False
    """Continue the run in --out from its checkpoint."""
    text_vocab: int = 4096
    """SentencePiece vocabulary size."""
    allow_heldout: list[str] = field(default_factory=list)
    """Held-out task ids allowed into this mix (named explicitly)."""
    stop_at: int | None = None
    """Stop after this step while the schedule still spans --steps (train in slices with --resume)."""
    init_from: Path | None = None
    """Start from this checkpoint's weights (fine-tuning); its shape and tokenizer are kept."""
    val_fraction: float = 0.1
    """Share of each task's episodes held out for validation NLL; 0 trains on every episode."""
    recipe: Annotated[tyro.conf.DisallowNone[str | None], tyro.conf.arg(help=recipes.help_text())] = None
    """The training recipe (agent/recipes.py), whose values the three fields below take when left unset;
    None: the default recipe, or with --resume / --init-from the checkpoint's own. After __post_init__ it
    names the recipe the run started from, and the fields below hold the values it trains with."""
    segment_steps: tyro.conf.DisallowNone[int | None] = None
    """Pack independent episode segments of at most this many timesteps into each window (positions
    restart and attention stays within a segment); 0 fills each window with one stretch of an episode
    (Gato). A policy's context then holds at most this many timesteps, as in training. Unset: the
    recipe's."""
    obs_norm: tyro.conf.DisallowNone[bool | None] = None
    """Standardize each task's continuous observations with its dataset's mean and std before mu-law
    (tokenization/obs_stats.py); the statistics are recorded in the checkpoint for the policy. Off:
    Gato's tokenization. Unset: the recipe's."""
    overrides: list[str] = field(default_factory=list)
    """Model config fields to set, as name=value, over the recipe's: each replaces the recipe's override of
    the same name (e.g. continuous_decoding=mean) and leaves the others."""
    prompt_prob: float = 0.25
    """Share of training windows that open with a demonstration of the same task (of the same variant, in a
    goal family, envs/hidden.py): Gato's prompt conditioning."""
    prompt_mode: str = "gato"
    """Where a prompt comes from in its demonstration: gato (its end, or a random stretch), end, whole."""
    goal_start_prob: float = 0.0
    """Share of a goal family's windows (hidden-goal tasks, envs/hidden.py) that start at the episode's first
    timestep, where only the prompt tells the goal (elsewhere a window starts anywhere in its episode)."""
    task_weights: list[str] = field(default_factory=list)
    """Sampling weights of tasks in the mix, as task=weight (e.g. dmc-point_mass-easy=3); unnamed tasks
    weigh 1, so by default every task gives the same share of windows."""

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.window < 8:
            raise ConfigError(f"--steps and --batch-size must be >= 1 and --window >= 8 (got {self.steps}, "
                              f"{self.batch_size}, {self.window})")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ConfigError(f"--val-fraction must be in [0, 1), got {self.val_fraction}")
        if self.fit_schedule and self.minutes is None:
            raise ConfigError("--fit-schedule fits the schedule to --minutes; pass --minutes too")
        if not 0.0 <= self.prompt_prob <= 1.0:
            raise ConfigError(f"--prompt-prob is a probability in [0, 1], got {self.prompt_prob}")
        if not 0.0 <= self.goal_start_prob <= 1.0:
            raise ConfigError(f"--goal-start-prob is a probability in [0, 1], got {self.goal_start_prob}")
        if self.minutes is not None and self.minutes <= 0:
            raise ConfigError(f"--minutes must be positive, got {self.minutes}")
        if self.segment_steps is not None and self.segment_steps < 0:
            raise ConfigError(f"--segment-steps must be >= 0 (0: one segment per window), got {self.segment_steps}")
        self._resolve_recipe()

    def _resolve_recipe(self) -> None:
        """Fill the recipe's fields left unset, once, so that the checkpoint records the values the run trains
        with. Resolving resolved args changes nothing (a copy made with `dataclasses.replace` stays equal)."""
        base = None
        source = self.out / "checkpoint" if self.resume else self.init_from
        if self.recipe is None and source is not None and (Path(source) / "config.json").is_file():
            from .checkpoint import read_config  # imported here: it loads torch, which --help must not

            base = recipes.recorded(read_config(Path(source)).get("train_args") or {})
        if base is None:
            from .families import get_family  # loads the model families (torch): not at --help time

            recipe = recipes.get_recipe(self.recipe or recipes.DEFAULT_RECIPE)
            base = {**recipe.fields(), "overrides": recipes.for_config(list(recipe.overrides),
                                                                        get_family(self.model).config)}
        self.recipe = base["recipe"]
        self.segment_steps = base["segment_steps"] if self.segment_steps is None else self.segment_steps
        self.obs_norm = base["obs_norm"] if self.obs_norm is None else self.obs_norm
        self.overrides = recipes.merge_overrides(base["overrides"], self.overrides)

    @property
    def segment_length(self) -> int | None:
        """segment_steps as the sampler and a checkpoint's config.json take it: None for one segment per
        window."""
        return self.segment_steps or None
