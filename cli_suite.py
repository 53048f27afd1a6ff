"""The suite's and the data's subcommands of `gatosuite` (cli.py puts them together): tasks, collect, datasets,
train-expert and reference-scores. As in cli.py, each is a dataclass whose field docstrings are --help, and
nothing heavy is imported until `run()`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class Tasks:
    """List the task suite: ids, domains, tags, modalities and reference scores."""

    json: bool = False
    """Print a JSON list of objects instead of a table."""
    tag: str = "all"
    """Only tasks with this tag ('train', 'heldout', a domain) or these comma-separated ids."""

    def run(self) -> None:
        import json as _json

        from gatosuite.envs import SUITE

        rows = [{"id": t.id, "domain": t.domain, "tags": sorted(t.tags), "modalities": list(t.modalities),
                 "random_score": t.random_score, "expert_score": t.expert_score, "metric": t.metric,
                 "bar": t.bar, "bar_met": t.reference().get("bar_met"), "episode_length": t.episode_length,
                 "expert": t.expert, "gym_id": t.gymnasium_id if t.is_env else None, "split": t.split,
                 "bar_note": t.bar_note}
                for t in SUITE.select(self.tag)]
        if self.json:
            print(_json.dumps(rows, indent=2))
            return
        fmt = "{:<30} {:<11} {:<9} {:<26} {:>10} {:>10} {:>8}  {}"
        print(fmt.format("id", "domain", "split", "modalities", "random", "expert", "bar", "bar met"))
        for r in rows:
            num = lambda v: "-" if v is None else f"{v:.3g}"  # noqa: E731
            met = {None: "-", True: "yes", False: f"NO: {r['bar_note'] or 'not examined'}"}[r["bar_met"]]
            print(fmt.format(r["id"], r["domain"], r["split"], ",".join(r["modalities"]), num(r["random_score"]),
                             num(r["expert_score"]), num(r["bar"]), met))


@dataclass
class Collect:
    """Collect expert episodes of a task (or 'all', or a tag) into Minari datasets under --root."""

    task: str
    """Task id, comma-separated ids, 'all', or a tag such as 'train' or 'babyai'."""
    episodes: int = 50
    """Episodes per task."""
    workers: int = 1
    """Ray actors that play the (task, chunk) jobs of every selected task (datasets/collect_ray.py); 1 plays
    them in this process, with no Ray."""
    ray_address: str | None = None
    """Join the Ray cluster at this address (e.g. 'ray://head:10001' or 'head:6379') instead of starting a
    local Ray; the actors run wherever the cluster has CPUs, and this machine writes --root."""
    vector_envs: int = 1
    """With --workers 1: step this many envs in one AsyncVectorEnv (forkserver subprocesses), which overlaps
    rendering with stepping; 1 steps a single env in-process."""
    root: Path = Path("data")
    """Where datasets (root/minari), staging chunks and token caches live."""
    resume: bool = False
    """Finish an interrupted collection from its staged chunks."""
    overwrite: bool = False
    """Replace an existing dataset with a fresh collection."""
    seed: int = 0
    """Episode i is reset with seed + i."""
    chunk_episodes: int = 10
    """Episodes per staged chunk file: at most this many are lost to a kill."""
    text_vocab: int = 4096
    """SentencePiece vocabulary for the text-lm and babyai-captions data."""
    noise: float = 0.0
    """Probability of playing a random action instead of the expert's at each step (DART-style noise
    injection); the dataset records the actions played and labels every state with the expert's action."""
    perturb_start: bool = False
    """Start episodes from perturbed states, for the selected tasks that define them (inverted-pendulum:
    the cart anywhere in 80% of its rail, moving; dmc-point_mass-easy: the mass moving), so the
    demonstrations show the expert recovering from there. Evaluation never perturbs."""

    def _build_text_data(self, task_id: str) -> None:
        from gatosuite.datasets.captions import build_caption_cache
        from gatosuite.datasets.text_data import build_text_cache
        from gatosuite.tokenization import default_text_model

        text = default_text_model(self.text_vocab)
        build = build_text_cache if task_id == "text-lm" else build_caption_cache
        cache = build(self.root, text)
        print(f"{task_id}: {len(cache)} samples, {cache.total_tokens:,} tokens in {cache.dir}")

    def run(self) -> None:
        from gatosuite.datasets.collect import collect
        from gatosuite.envs import SUITE

        try:
            tasks = SUITE.select(self.task)
        except KeyError as e:
            raise SystemExit(f"error: {e.args[0]}") from None
        if self.perturb_start:
            from gatosuite.envs.perturb import check_perturbable

            if not any(t.start_spread for t in tasks):  # tasks without them are collected plainly
                check_perturbable(tasks)
        envs = [t for t in tasks if t.domain not in ("text", "caption")]
        for t in tasks:
            if t.domain in ("text", "caption"):
                self._build_text_data(t.id)
        if self.workers > 1 or self.ray_address:
            from gatosuite.datasets.collect_ray import collect_tasks

            results = collect_tasks([t.id for t in envs], self.episodes, self.root, self.workers, self.resume,
                                    self.seed, self.chunk_episodes, self.overwrite, noise=self.noise,
                                    perturb_start=self.perturb_start, ray_address=self.ray_address)
        else:
            results = (collect(t.id, self.episodes, self.root, self.vector_envs, self.resume, self.seed,
                               chunk_episodes=self.chunk_episodes, overwrite=self.overwrite, noise=self.noise,
                               perturb_start=self.perturb_start and bool(t.start_spread)) for t in envs)
        for r in results:
            succ = "" if r.success_rate is None else f", success {r.success_rate:.0%}"
            print(f"{r.task}: {r.episodes} episodes (mean return {r.mean_return:.1f}{succ}) in {r.path}"
                  + (f"; {r.collected_now} collected now at {r.steps_per_s:,.0f} steps/s" if r.collected_now else
                     "; already collected"), flush=True)


@dataclass
class Datasets:
    """List the collected datasets under --root from their cards: episodes, steps, the dataset's success rate or
    mean return, the expert's reference score, the collector, its version and the size on disk."""

    root: Path = Path("data")
    """Where `gatosuite collect` put them."""
    json: bool = False
    """Print the cards as a JSON list instead of a table."""

    def run(self) -> None:
        import json as _json

        from gatosuite.datasets.cards import read_cards

        rows = read_cards(self.root)
        if self.json:
            print(_json.dumps(rows, indent=2))
            return
        if not rows:
            print(f"no datasets under '{self.root}'; collect some with `gatosuite collect --task <id> --root "
                  f"{self.root}`")
            return
        num = lambda v, f="{:.4g}": "-" if v is None else f.format(v)  # noqa: E731
        fmt = "{:<30} {:>6} {:>9} {:>8} {:>10} {:>8}  {:>9}  {:<8} {}"
        print(fmt.format("task", "eps", "steps", "success", "return", "expert", "size MiB", "version", "collector"))
        for r in rows:
            print(fmt.format(r["task"], r["episodes"], r["steps"], num(r["success_rate"], "{:.0%}"),
                             num(r["mean_return"], "{:.1f}"), num(r["expert_reference"]),
                             f"{r['size_bytes'] / 2**20:.1f}", r["gatosuite_version"], r["collector"]))


@dataclass
class TrainExpert:
    """Train a locomotion expert with Stable-Baselines3 SAC and export its actor to envs/weights."""

    task: str
    """Task id with a learned expert (`gatosuite tasks` lists them; its SAC hyper-parameters are the task's own)."""
    steps: int = 400_000
    """Maximum environment steps."""
    minutes: float = 75.0
    """Wall-clock budget; the best evaluated actor so far is kept."""
    seed: int = 0
    """Training seed."""
    eval_every: int = 20_000
    """Evaluate (5 episodes) and keep the best actor every this many steps."""
    out: Path | None = None
    """Folder for the exported actor; default envs/weights, where the expert registry loads from."""
    work: Path | None = None
    """Folder of the training state (model, optimizers, replay buffer, generators); default runs/experts/<expert>."""
    ckpt_every: int = 10_000
    """Checkpoint the training state at the first episode start after every this many steps."""
    resume: bool = False
    """Go on exactly where a killed training of this expert stopped, with what is left of --minutes."""

    def run(self) -> None:
        from gatosuite.envs import SUITE, make_raw_env
        from gatosuite.envs.experts.learned import WEIGHTS_DIR
        from gatosuite.envs.experts.train import train_sac

        task = SUITE[self.task]
        train_sac(lambda: make_raw_env(task), task.expert, self.steps, self.minutes, self.seed,
                  eval_every=self.eval_every, out_dir=self.out or WEIGHTS_DIR, work=self.work,
                  resume=self.resume, ckpt_every=self.ckpt_every, sac_kwargs=task.sac)


@dataclass
class ReferenceScores:
    """Measure expert and random-policy scores over the same seeds into envs/reference_scores.json."""

    task: str = "all"
    """Task id(s), 'all', or a tag."""
    episodes: int = 50
    """Episodes per policy (seeds 0..episodes-1)."""
    out: Path | None = None
    """JSON file to merge results into; default envs/reference_scores.json, which the registry reads."""
    table: bool = False
    """Measure nothing; print the scores already in the file as a Markdown table (as in README)."""
    missing: bool = False
    """Measure only the tasks the file has no row for (a killed measurement goes on where it stopped)."""
    rebar: bool = False
    """Measure nothing; re-judge the stored rows against the registry's current bars (after a bar changed)."""

    def run(self) -> None:
        import json

        from gatosuite.envs import SUITE
        from gatosuite.envs.reference import markdown_table, measure, rebar, update_reference_file
        from gatosuite.envs.registry import REFERENCE_SCORES

        path = self.out or REFERENCE_SCORES
        if self.table:
            print(markdown_table(SUITE.select(self.task), path))
            return
        if self.rebar:
            changed = rebar(SUITE.select(self.task), path)
            print(f"re-judged against today's bars: {', '.join(changed) or 'nothing changed'}")
            return
        done = set(json.loads(path.read_text())) if self.missing and path.is_file() else set()
        for t in SUITE.select(self.task):
            if not t.is_env or t.expert is None or t.id in done:
                continue
            row = measure(t, self.episodes)
            update_reference_file({t.id: row}, path)
            print(f"{t.id}: expert {row['expert']:.3f}  random {row['random']:.3f}  bar {t.bar}  "
                  f"met {row['bar_met']}", flush=True)
