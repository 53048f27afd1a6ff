"""The arguments of `gatosuite compare` (`CompareArgs`), apart from the comparison itself so that the
command line can print --help without importing torch or the simulators. evaluation/compare.py runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gatosuite.agent.defaults import default_device, default_precision
from gatosuite.agent.recipes import DEFAULT_RECIPE, get_recipe
from gatosuite.errors import ConfigError

DEFAULT_TASKS = ("cartpole,acrobot,mountaincar-continuous,inverted-pendulum,dmc-cartpole-balance,"
                 "dmc-point_mass-easy,mw-reach,babyai-gotoredball,text-lm,babyai-captions")


@dataclass
class CompareArgs:
    """Train and evaluate several model families on the same data, seeds and budget."""

    models: list[str] = field(default_factory=lambda: ["gato", "gato-moe"])
    """Model families to compare (agent/families.py), space- or comma-separated."""
    tasks: str = DEFAULT_TASKS
    """The training mix (collected under --root; the demo's mix by default, see `gatosuite demo`)."""
    root: Path = Path("data/demo")
    """Where the mix's datasets and token caches are."""
    out: Path = Path("runs/compare")
    """Output folder: one subfolder per family, compare.json, compare.md, compare.html."""
    preset: str = "nano"
    """Preset of every family (each family has a nano sized for a CPU)."""
    minutes: float = 3.0
    """Training wall-clock per family (the schedule is fitted to it); ignored with --tokens. With the other
    defaults, the six acting families took 34 minutes on a 2-core CPU: evaluation and few-shot take about as
    long again as training."""
    tokens: int | None = None
    """Train every family on this many tokens instead of for --minutes (equal data, not equal time)."""
    window: int = 240
    """Tokens per window."""
    batch_size: int = 16
    """Windows per step."""
    seed: int = 0
    """Seed of weights and sampling, the same for every family."""
    eval_episodes: int = 5
    """Evaluation episodes per environment task (seeds 1000 onward)."""
    val_batches: int = 8
    """Validation batches for the NLL columns (the same windows for every family)."""
    fewshot: str = "dmc-cartpole-swingup"
    """Held-out task of the few-shot columns (k = 1); empty: none."""
    fewshot_steps: int = 50
    """Steps of few-shot fine-tuning and of the scratch baseline."""
    recipe: str = DEFAULT_RECIPE
    """Training recipe of every family (agent/recipes.py): gatosuite-2026 (the recipe that learns continuous
    control) or gato-2022 (the Gato paper's plain recipe)."""
    watts_per_core: float = 10.0
    """Assumed power of one busy CPU core for the energy estimate (not measured: see the module docstring)."""
    continual: bool = False
    """Run the continual protocol instead (evaluation/compare_continual.py): tasks of --sequence one at a time,
    --steps-per-task each, over --train-seeds seeds; writes continual.md under --out. --models may include
    gato-multitask, Gato trained on the whole sequence at once (the upper bound)."""
    sequence: str = "cw3"
    """With --continual: cw3 (three Meta-World tasks, for a CPU), cw10 (Continual World's), or task ids."""
    steps_per_task: int = 300
    """With --continual: training steps per task (and for each from-scratch reference run)."""
    train_seeds: int = 3
    """With --continual: training seeds per family (the CIs are over these)."""
    workers: int = 1
    """With --continual: runs at once (a seed's sequence, each reference run): 1 runs them one after another
    in this process; K > 1 as Ray tasks of one CPU each on a local Ray (evaluation/continual_jobs.py)."""
    search: int = 0
    """With --continual: generations of PathNet's and muNet's own evolution at each later task's start (the
    path or child the task trains); 0: one seeded draw. Other families ignore it."""
    search_size: int = 4
    """With --continual --search: PathNet's population of paths."""
    search_steps: int = 20
    """With --continual --search: training steps of each candidate, on top of --steps-per-task."""
    ray_address: str | None = None
    """With --continual: run the jobs on the Ray cluster at this address (e.g. 'head:6379'), whose nodes see
    --root and --out at the same paths."""
    device: str = field(default_factory=default_device)
    """auto, cpu or cuda."""
    precision: str = field(default_factory=default_precision)
    """auto, fp32 or bf16."""

    def __post_init__(self) -> None:
        self.models = [m for item in self.models for m in item.split(",") if m]  # `a b` and `a,b` alike
        if not self.models:
            raise ConfigError("--models needs at least one model family")
        get_recipe(self.recipe)
        from gatosuite.agent.families import get_family

        for name in self.models:
            if self.continual and name == "gato-multitask":
                continue
            if not get_family(name).can_act:
                raise ConfigError(f"'{name}' cannot act, so it has no policy scores or next-token NLL to put in this "
                                  f"table; leave it out of --models (benchmarks/bench_limoe.py measures it)")
        if self.continual and (self.steps_per_task < 1 or self.train_seeds < 1 or self.workers < 1):
            raise ConfigError(f"--steps-per-task ({self.steps_per_task}), --train-seeds ({self.train_seeds}) and "
                              f"--workers ({self.workers}) must be at least 1")
        if self.tokens is not None and self.tokens < self.batch_size * self.window:
            raise ConfigError(f"--tokens {self.tokens} is less than one step ({self.batch_size} x {self.window})")
