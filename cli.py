"""The `gatosuite` command line: one typed dataclass per subcommand, whose field docstrings are --help.

Each subcommand is a dataclass with a `run()` method; tyro builds the parser from it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tyro

from gatosuite.agent.defaults import default_device, default_precision
from gatosuite.errors import INTERRUPTED_STATUS, RESUME_FIX, GatosuiteError, is_no_space

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
class Walkthrough:
    """A printed tour of the tokenizer on three kinds of task."""

    text_vocab: int = 4096
    """SentencePiece vocabulary size."""

    def run(self) -> None:
        from gatosuite.tokenization.walkthrough import walkthrough

        walkthrough(self.text_vocab)


from gatosuite.demo import DemoArgs  # noqa: E402


@dataclass
class Demo(DemoArgs):
    """The main job: collect, train, evaluate, few-shot on held-out tasks, and write the report."""

    def __post_init__(self) -> None:
        """Validated in run(): tyro would turn an error raised while parsing into a box, not one line."""

    def run(self) -> None:
        from gatosuite.demo import demo

        DemoArgs.__post_init__(self)
        demo(self)


@dataclass
class Rollout:
    """Roll a checkpoint out on one task for a quick look: returns, normalized scores, optional video."""

    checkpoint: Path
    """Checkpoint folder (holds model.safetensors, config.json, tokenizer.model)."""
    task: str
    """Task id."""
    episodes: int = 5
    """Episodes; episode i is reset with seed + i."""
    seed: int = 1000
    """First episode's seed."""
    envs: int = 5
    """Envs stepped together by one batched policy."""
    video: Path | None = None
    """Write the first episode as an MP4 here."""
    prompt_episodes: int = 0
    """Prompt with this many expert demonstrations of the task (collected under --root, seeds 0..K-1)."""
    root: Path = Path("data")
    """Where demonstrations for --prompt-episodes are collected."""
    device: str = field(default_factory=default_device)
    """auto, cpu or cuda."""
    precision: str = field(default_factory=default_precision)
    """auto, fp32 or bf16 (auto: bf16 only where it is measured faster)."""

    def run(self) -> None:
        from gatosuite.agent.factory import make_policy
        from gatosuite.evaluation.rollout import rollout
        from gatosuite.evaluation.scores import task_summary

        prompt = None
        policy = make_policy(self.checkpoint, self.task, device=self.device, precision=self.precision)
        if self.prompt_episodes:
            from gatosuite.agent.checkpoint import read_config
            from gatosuite.evaluation.prompts import demonstrations, prompt_for, trained_prompt_mode

            cache = demonstrations(self.task, self.prompt_episodes, self.root, policy.tok)
            prompt = prompt_for([cache.episode(i) for i in range(len(cache))], self.prompt_episodes, policy.L,
                                policy.capacity, trained_prompt_mode(read_config(self.checkpoint)))
            if prompt is None:
                raise SystemExit(f"error: {self.prompt_episodes} demonstrations do not fit the context")
            policy = make_policy(self.checkpoint, self.task, prompt=prompt, device=self.device,
                                precision=self.precision)
        seeds = [self.seed + i for i in range(self.episodes)]
        results = rollout(policy, self.task, seeds, num_envs=self.envs, video=self.video)
        for r in results:
            succ = "" if r.success is None else f"  success {r.success}"
            print(f"seed {r.seed}: return {r.ret:.1f}  length {r.length}{succ}")
        s = task_summary(self.task, [r.score for r in results])
        print(f"{self.task}: normalized {s['normalized']:.3f} [{s['normalized_ci'][0]:.3f}, "
              f"{s['normalized_ci'][1]:.3f}] (random {s['random']:.1f}, expert {s['expert']:.1f})"
              + (f"; video {self.video}" if self.video else ""))


@dataclass
class Evaluate:
    """Evaluate a checkpoint on many tasks and write eval_info.json, report.md and report.html."""

    checkpoint: Path
    """Checkpoint folder."""
    tasks: str = "trained"
    """'trained' (the checkpoint's own env tasks), task ids, or a tag."""
    out: Path | None = None
    """Output folder; default <checkpoint>/../eval."""
    episodes: int = 5
    """Episodes per task (seeds seed..seed+episodes-1, the same for every task)."""
    seed: int = 1000
    """First episode's seed."""
    envs: int = 5
    """Envs stepped together by one batched policy."""
    video: bool = True
    """Write an MP4 of each task's first episode."""
    fewshot: str = ""
    """Held-out tasks (ids or 'heldout') for the few-shot protocol; empty: none."""
    ks: list[int] = field(default_factory=lambda: [1, 4])
    """Demonstration counts for the few-shot protocol."""
    fewshot_steps: int = 150
    """Training steps of few-shot fine-tuning and of the from-scratch baseline."""
    oracle: Path | None = None
    """For a goal family's held-out task: a checkpoint trained on the goal family's -oracle task (the goal
    in the observation), played on the same seeds as the ceiling."""
    root: Path = Path("data")
    """Where few-shot demonstrations are collected."""
    device: str = field(default_factory=default_device)
    """auto, cpu or cuda."""
    precision: str = field(default_factory=default_precision)
    """auto, fp32 or bf16 (auto: bf16 only where it is measured faster)."""

    def run(self) -> None:
        from gatosuite.envs import SUITE
        from gatosuite.evaluation.evaluate import EvalSettings, build_info, evaluate_tasks, resolve_tasks, write_outputs
        from gatosuite.evaluation.fewshot import fewshot_task

        out = self.out or Path(self.checkpoint).resolve().parent / "eval"
        s = EvalSettings(episodes=self.episodes, seed=self.seed, envs=self.envs, video=self.video,
                         device=self.device, precision=self.precision)
        try:
            task_ids = resolve_tasks(self.checkpoint, self.tasks)
            heldout = [t.id for t in SUITE.select(self.fewshot)] if self.fewshot else []
        except KeyError as e:
            raise SystemExit(f"error: {e.args[0]}") from None
        tasks = evaluate_tasks(self.checkpoint, task_ids, out, s)
        few = {t: fewshot_task(self.checkpoint, t, self.root, out / "fewshot", self.ks, s, self.fewshot_steps,
                               oracle=self.oracle, video_dir=out / "fewshot" if self.video else None)
               for t in heldout}
        train_csv = Path(self.checkpoint).resolve().parent / "train.csv"
        paths = write_outputs(build_info(self.checkpoint, tasks, s, few), out, train_csv)
        print(f"report: {paths['markdown']}\n        {paths['html']}")


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
                 "expert": t.expert, "gym_id": t.gymnasium_id if t.is_env else None}
                for t in SUITE.select(self.tag)]
        if self.json:
            print(_json.dumps(rows, indent=2))
            return
        fmt = "{:<30} {:<11} {:<8} {:<26} {:>10} {:>10} {:>8}  {}"
        print(fmt.format("id", "domain", "split", "modalities", "random", "expert", "bar", "bar met"))
        for r in rows:
            num = lambda v: "-" if v is None else f"{v:.3g}"  # noqa: E731
            met = {None: "-", True: "yes", False: "NO"}[r["bar_met"]]
            split = "heldout" if "heldout" in r["tags"] else "train"
            print(fmt.format(r["id"], r["domain"], split, ",".join(r["modalities"]), num(r["random_score"]),
                             num(r["expert_score"]), num(r["bar"]), met))


@dataclass
class Collect:
    """Collect expert episodes of a task (or 'all', or a tag) into Minari datasets under --root."""

    task: str
    """Task id, comma-separated ids, 'all', or a tag such as 'train' or 'babyai'."""
    episodes: int = 50
    """Episodes per task."""
    workers: int = 1
    """Parallel env processes (AsyncVectorEnv, forkserver); 1 runs in-process."""
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
        for t in tasks:
            if t.domain in ("text", "caption"):
                self._build_text_data(t.id)
                continue
            r = collect(t.id, self.episodes, self.root, self.workers, self.resume, self.seed,
                        chunk_episodes=self.chunk_episodes, overwrite=self.overwrite, noise=self.noise,
                        perturb_start=self.perturb_start and bool(t.start_spread))
            succ = "" if r.success_rate is None else f", success {r.success_rate:.0%}"
            print(f"{t.id}: {r.episodes} episodes (mean return {r.mean_return:.1f}{succ}) in {r.path}"
                  + (f"; {r.collected_now} collected now at {r.steps_per_s:,.0f} steps/s" if r.collected_now else
                     "; already collected"))


@dataclass
class TrainExpert:
    """Train a locomotion expert with Stable-Baselines3 SAC and export its actor to envs/weights."""

    task: str
    """Task id with a learned expert (hopper, halfcheetah)."""
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

    def run(self) -> None:
        from gatosuite.envs import SUITE, make_raw_env
        from gatosuite.envs.experts.learned import WEIGHTS_DIR
        from gatosuite.envs.experts.train import train_sac

        task = SUITE[self.task]
        train_sac(lambda: make_raw_env(task), task.expert, self.steps, self.minutes, self.seed,
                  eval_every=self.eval_every, out_dir=self.out or WEIGHTS_DIR)


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

    def run(self) -> None:
        from gatosuite.envs import SUITE
        from gatosuite.envs.reference import markdown_table, measure, update_reference_file
        from gatosuite.envs.registry import REFERENCE_SCORES

        if self.table:
            print(markdown_table(SUITE.select(self.task), self.out or REFERENCE_SCORES))
            return
        for t in SUITE.select(self.task):
            if not t.is_env or t.expert is None:
                continue
            row = measure(t, self.episodes)
            update_reference_file({t.id: row}, self.out or REFERENCE_SCORES)
            print(f"{t.id}: expert {row['expert']:.3f}  random {row['random']:.3f}  bar {t.bar}  "
                  f"met {row['bar_met']}", flush=True)


from gatosuite.agent.train_args import TrainArgs  # noqa: E402


@dataclass
class Train(TrainArgs):
    """Train one model on a mix of tasks (masked NLL on text and action tokens). The default recipe,
    gatosuite-2026, learns continuous control; --recipe gato-2022 trains the Gato paper's plain recipe."""

    def __post_init__(self) -> None:
        """Validated in run(): tyro would turn an error raised while parsing into a box, not one line."""

    def run(self) -> None:
        from gatosuite.agent.train import train

        TrainArgs.__post_init__(self)
        summary = train(self)
        print(f"trained to step {summary['step']}; checkpoint in {self.out / 'checkpoint'}")


from gatosuite.evaluation.compare_args import CompareArgs  # noqa: E402


@dataclass
class Compare(CompareArgs):
    """Train and evaluate several model families on the same data, seeds and budget; write the zoo's table."""

    def __post_init__(self) -> None:
        """Validated in run(), so a bad value is one error line."""

    def run(self) -> None:
        from gatosuite.evaluation.compare import compare

        CompareArgs.__post_init__(self)
        print(f"report: {compare(self)}")


COMMANDS = {"demo": Demo, "tasks": Tasks, "collect": Collect, "train": Train, "rollout": Rollout, "evaluate": Evaluate,
            "train-expert": TrainExpert, "reference-scores": ReferenceScores, "tokenize": Tokenize,
            "text-model": TextModelCmd, "walkthrough": Walkthrough, "compare": Compare}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `gatosuite` console script and of `python -m gatosuite`.

    A known failure (any `GatosuiteError`: bad arguments, unknown tasks, missing or corrupt data and
    checkpoints, mismatched configs) ends the command with one `error: ...` line naming the fix and exit
    status 1, without a traceback; GATOSUITE_DEBUG=1 shows the traceback instead. So does a full disk
    (ENOSPC) that reaches here unnamed.
    """
    try:
        cmd = tyro.extras.subcommand_cli_from_dict(
            COMMANDS, prog="gatosuite", description=__doc__.splitlines()[0], args=argv
        )
        cmd.run()
    except GatosuiteError as e:
        if os.environ.get("GATOSUITE_DEBUG"):
            raise
        raise SystemExit(f"error: {e}") from None
    except OSError as e:  # the last net for a full disk that no writer named (each writer names its file)
        if not is_no_space(e) or os.environ.get("GATOSUITE_DEBUG"):
            raise
        where = f" while writing '{e.filename}'" if e.filename else ""
        raise SystemExit(f"error: no space left on device{where}; {RESUME_FIX}") from None
    except KeyboardInterrupt:  # training handles Ctrl-C itself; elsewhere every finished piece is on disk
        if os.environ.get("GATOSUITE_DEBUG"):
            raise
        print("error: interrupted (Ctrl-C); what was finished is kept: a collection continues with the same "
              "command plus --resume, and any other command can be rerun", file=sys.stderr)
        raise SystemExit(INTERRUPTED_STATUS) from None


if __name__ == "__main__":
    main(sys.argv[1:])
