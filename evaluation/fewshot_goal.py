"""Few-shot evaluation on a goal family's held-out goals (hidden-parameter tasks, envs/hidden.py).

Every evaluation seed plays one held-out variant (a goal never seen in training), and every method is
scored on the same seeds:

* zero-shot: the checkpoint with no demonstration: it cannot know the goal;
* prompting: k demonstrations *of the episode's own goal* (other start states) open its context, their
  final timesteps as in `prompts.prompt_for` (their first, for a model trained with `--prompt-mode
  whole`); each env of the batched rollout gets its own episode's;
* finetune / scratch: for each held-out goal, the checkpoint fine-tuned (or a model of its shape trained
  from scratch) on that goal's k demonstrations, then played zero-shot on that goal's seeds;
* oracle: a checkpoint trained on the goal family's `-oracle` task (the same episodes with the goal left in
  the observation), played on `-oracle-heldout` with the same seeds: the ceiling of knowing the goal.

Demonstrations are collected with seeds 0..H*k-1 (H held-out goals), so goal j's are seeds
j, j+H, ..., all below the evaluation seeds (1000 onward by default).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gatosuite.agent.checkpoint import config_of, read_config
from gatosuite.agent.factory import make_policy
from gatosuite.datasets.cache import EpisodeSubset, TokenCache, dataset_obs_stats, open_cache
from gatosuite.envs import SUITE
from gatosuite.envs.hidden import GOAL_FAMILIES
from gatosuite.errors import ConfigError
from gatosuite.tokenization import ObsStats, TextModel, TokenSequence
from gatosuite.tokenization.task import task_tokenizer

from .adapt import adapt_to_demonstrations
from .evaluate import EvalSettings
from .prompts import collect_demonstrations, context_steps, prompt_for, trained_prompt_mode
from .rollout import rollout
from .scores import task_summary


def goal_family_stats(meta: dict[str, Any], sibling: str, demo_root: Path, task_id: str) -> ObsStats | None:
    """Observation statistics of a checkpoint trained with standardization, for a goal family's held-out task:
    those of its training sibling (the same observation layout), else the demonstrations' own."""
    if not meta.get("obs_stats"):
        return None
    if sibling in meta["obs_stats"]:
        return ObsStats.from_dict(meta["obs_stats"][sibling])
    return dataset_obs_stats(demo_root, task_id)


@dataclass
class GoalDemos:
    """A goal family's held-out task's demonstrations as a checkpoint sees them, and the prompts cut from them."""

    stats: ObsStats | None
    """The observation statistics the checkpoint plays the task with (`goal_family_stats`)."""
    cache: TokenCache
    of_variant: dict[int, list[int]]
    """Episode indices of each held-out goal, in seed order."""
    tokens_per_timestep: int
    context: int
    """Timesteps in the checkpoint's context."""
    mode: str
    """Where prompts are cut, as the checkpoint was trained (`prompts.trained_prompt_mode`)."""

    @classmethod
    def collect(cls, checkpoint: Path, task_id: str, n: int, root: Path, text: TextModel,
                meta: dict[str, Any]) -> GoalDemos:
        """The first n demonstrations of `task_id` under `root` (collected if missing), tokenized for the
        checkpoint."""
        goal_family = SUITE[task_id].goal_family
        demo_root = collect_demonstrations(task_id, n, root)
        stats = goal_family_stats(meta, goal_family, demo_root, task_id)
        tok = task_tokenizer(task_id, text, stats)
        cache = open_cache(demo_root, task_id, tok)
        of_variant: dict[int, list[int]] = {v: [] for v in GOAL_FAMILIES[goal_family].pool(heldout=True)}
        for i, v in enumerate(cache.variants):
            of_variant[v].append(i)
        L = tok.spec.tokens_per_timestep
        return cls(stats, cache, of_variant, L, context_steps(meta, config_of(checkpoint, meta), L),
                   trained_prompt_mode(meta))

    def prompt(self, variant: int, k: int) -> list[TokenSequence] | None:
        """k demonstrations of one goal cut as the checkpoint's prompt; None if they cannot fit."""
        demos = [self.cache.episode(i) for i in self.of_variant[variant]]
        return prompt_for(demos, k, self.tokens_per_timestep, self.context, self.mode)


def fewshot_goal_family(checkpoint: Path, task_id: str, root: Path, work: Path, ks: list[int], s: EvalSettings,
                        steps: int = 150, progress: bool = True, oracle: Path | None = None,
                        adapt: bool = True, video_dir: Path | None = None) -> dict[str, Any]:
    """The `fewshot[task_id]` block for a goal family's held-out task (`<goal family>-heldout`). `adapt`: also
    fine-tune and train from scratch per goal; `video_dir`: write the first seed played zero-shot and
    prompted with k = min(ks), side by side; the block's `video` is its path relative to video_dir's parent."""
    task = SUITE[task_id]
    if task.goal_family is None or not task.heldout or task.shows_parameter:
        known = [t.id for t in SUITE.select("hidden-param") if t.heldout and not t.shows_parameter]
        raise ConfigError(f"'{task_id}' is not a goal family's held-out task; those are: "
                          f"{', '.join(known)}")
    fam = GOAL_FAMILIES[task.goal_family]
    pool = fam.pool(heldout=True)
    seeds = [s.seed + i for i in range(s.episodes)]
    n_demos = len(pool) * max(ks)
    if n_demos > min(seeds):
        raise ConfigError(f"{n_demos} demonstrations need seeds 0..{n_demos - 1}, which reach the evaluation "
                          f"seeds from {min(seeds)}; evaluate from a higher --seed")
    t0 = time.perf_counter()
    text = TextModel.load(checkpoint)
    meta = read_config(checkpoint)
    demos = GoalDemos.collect(checkpoint, task_id, n_demos, root, text, meta)
    stats, cache, of_variant, ctx = demos.stats, demos.cache, demos.of_variant, demos.context
    cfg = config_of(checkpoint, meta)

    def prompts(k: int):
        return lambda seed: demos.prompt(fam.variant(seed, True), k) or []

    videos: dict[str, Path] = {}

    def play(ckpt: Path, on: list[int], k: int | None = None, task: str = task_id,
             obs_stats: ObsStats | None = stats, video: str | None = None) -> list[float]:
        policy = make_policy(ckpt, task, device=s.device, precision=s.precision, obs_stats=obs_stats,
                            prompt_of_seed=prompts(k) if k else None)
        path = None
        if video_dir is not None and video is not None:
            path = videos[video] = Path(video_dir) / f"{task_id}-{video}.mp4"
        return [r.score for r in rollout(policy, task, on, num_envs=s.envs, progress=False, video=path)]

    def summary(scores: list[float]) -> dict[str, Any]:
        return task_summary(task_id, scores, reps=s.reps)

    methods: dict[str, dict[str, Any]] = {"zero-shot": {"0": summary(play(checkpoint, seeds, video="zero-shot"))},
                                          "prompting": {}, "finetune": {}, "scratch": {}}
    prompt_steps = {}
    for k in ks:
        if demos.prompt(pool[0], k) is not None:
            methods["prompting"][str(k)] = summary(play(checkpoint, seeds, k,
                                                         video=f"prompt-k{k}" if k == min(ks) else None))
            prompt_steps[str(k)] = (ctx // 2) // k
        if adapt:
            for finetune in (True, False):
                scores: dict[int, float] = {}
                for v in pool:  # one adapted model per held-out goal, on that goal's k demonstrations
                    on = [x for x in seeds if fam.variant(x, True) == v]
                    if not on:
                        continue
                    sub = EpisodeSubset(cache, of_variant[v][:k])
                    ckpt = adapt_to_demonstrations(checkpoint, cfg, text, task_id, sub, len(sub),
                                                   Path(work) / task_id / f"goal{v}", steps, finetune, s,
                                                   meta.get("segment_steps"))
                    scores.update(zip(on, play(ckpt, on)))
                methods["finetune" if finetune else "scratch"][str(k)] = summary([scores[x] for x in seeds])
        if progress:
            print(f"  {task_id} k={k}: " + ", ".join(f"{m} {v[str(k)]['normalized']:.2f}" for m, v in methods.items()
                                                     if str(k) in v), flush=True)
    if oracle is not None:
        sibling = f"{task.goal_family}-oracle"
        ometa = read_config(oracle)
        ostats = ObsStats.from_dict(ometa["obs_stats"][sibling]) if sibling in (ometa.get("obs_stats") or {}) else None
        methods["oracle"] = {"0": summary(play(oracle, seeds, task=f"{sibling}-heldout", obs_stats=ostats))}
    video = None
    if len(videos) == 2:
        from .video import filmstrip, side_by_side

        zero, prompted = videos.values()
        goal = fam.variant(seeds[0], True)
        path = side_by_side([zero, prompted], [f"zero-shot, goal {goal}", f"prompted k={min(ks)}, goal {goal}"],
                            Path(video_dir) / f"{task_id}-zero-vs-prompted.mp4")
        filmstrip(path, path.with_suffix(".png"))  # its frames, for pages that cannot play video
        video = str(path.relative_to(Path(video_dir).parent))  # relative to the run folder, as reports link it
    ref = task.reference()
    return {"seeds": seeds, "metric": task.metric, "random": ref["random"], "expert": ref["expert"],
            "goal_family": task.goal_family, "video": video, "variants": {str(x): fam.variant(x, True) for x in seeds},
            "demos": {"seeds": list(range(n_demos)), "prompt_timesteps": prompt_steps, "train_steps": steps},
            "methods": methods, "seconds": time.perf_counter() - t0}
