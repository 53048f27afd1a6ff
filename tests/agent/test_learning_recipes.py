"""`gatosuite train` with no recipe flags learns continuous control, and the Gato paper's recipe, one flag
away, does not: inverted-pendulum alone, trained from the command line for a fixed number of steps on the
same collected episodes, with the same training seed, scored on the same 10 evaluation seeds.

The episodes are collected as the demo collects this task (demo.NOISE's DART noise and perturbed starts,
demo.EPISODES' 100 episodes). The window is shorter than the default 256 tokens, so that the test stays
cheap: on this task more steps of shorter windows learned more than fewer steps of full ones for the
same CPU time (measured in the issue's report). Bounded by steps, never by a clock.
"""

import numpy as np
import pytest

from gatosuite.agent.factory import make_policy
from gatosuite.cli import main
from gatosuite.demo import EPISODES, NOISE
from gatosuite.evaluation.rollout import rollout
from gatosuite.evaluation.scores import normalize_task

TASK = "inverted-pendulum"
STEPS = 200
SEEDS = list(range(1000, 1010))


def _score(checkpoint) -> np.ndarray:
    policy = make_policy(checkpoint, TASK, precision="fp32")
    return normalize_task(TASK, [r.score for r in rollout(policy, TASK, SEEDS, num_envs=len(SEEDS), progress=False)])


@pytest.mark.slow
def test_the_default_recipe_beats_gato_2022_on_inverted_pendulum_from_the_cli(tmp_path):
    root = tmp_path / "data"
    main(["collect", "--task", TASK, "--episodes", str(EPISODES[TASK]), "--noise", str(NOISE[TASK]),
          "--perturb-start", "--root", str(root)])
    scores = {}
    for name, recipe_flags in (("default", []), ("gato-2022", ["--recipe", "gato-2022"])):
        main(["train", "--tasks", TASK, "--root", str(root), "--out", str(tmp_path / name), "--steps", str(STEPS),
              "--window", "96", "--warmup", "20", "--val-fraction", "0", "--val-every", "0",
              "--log-every", str(STEPS), "--seed", "0", "--precision", "fp32", *recipe_flags])
        scores[name] = _score(tmp_path / name / "checkpoint")
    default, gato = scores["default"].mean(), scores["gato-2022"].mean()
    report = {k: np.round(v, 2).tolist() for k, v in scores.items()}
    assert default >= 0.4 and default >= gato + 0.3, report
