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
from gatosuite.cli_suite import Collect, Datasets, ReferenceScores, Tasks, TrainExpert
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
        if self.continual:
            from gatosuite.evaluation.compare_continual import compare_continual, sequence_tasks
            from gatosuite.evaluation.continual_run import ContinualSettings
            from gatosuite.tokenization import default_text_model

            tasks = sequence_tasks(self.sequence)
            base = ContinualSettings(tasks=tasks, steps=self.steps_per_task, episodes=self.eval_episodes,
                                     preset=self.preset, batch_size=self.batch_size, window=self.window,
                                     device=self.device, precision=self.precision, search=self.search,
                                     search_size=self.search_size, search_steps=self.search_steps)
            md = compare_continual(self.models, tasks, self.root, self.out, self.train_seeds, base,
                                   default_text_model(4096), self.workers, self.ray_address)
            print(f"report: {md}")
            return
        print(f"report: {compare(self)}")


COMMANDS = {"demo": Demo, "tasks": Tasks, "collect": Collect, "datasets": Datasets, "train": Train,
            "rollout": Rollout, "evaluate": Evaluate, "train-expert": TrainExpert,
            "reference-scores": ReferenceScores, "tokenize": Tokenize,
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
