"""Where does the hand go? A Meta-World goal family's held-out goals played zero-shot and prompted (k = 1).

A success rate says whether the hand got within 5 cm; this says whether the prompt steers it at all: for
each held-out seed, the hand's closest approach to the goal and where it ends, and across seeds the
correlation of the final hand position with the goal, per axis (1: the hand follows the goal the prompt
shows; 0: it ignores it). Prompts are cut as the checkpoint was trained (evaluation/fewshot.py).

    python benchmarks/fewshot_endpoints.py data/fewshot-mwobj/mw-reach-goal/runs/prompted/checkpoint \\
        --root data/fewshot-mwobj/mw-reach-goal --seeds 20
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    from gymnasium.vector import AutoresetMode, SyncVectorEnv

    from gatosuite.agent.checkpoint import read_config
    from gatosuite.agent.policy import DecoderPolicy
    from gatosuite.envs import SUITE, make_task_env
    from gatosuite.envs.hidden import GOAL_FAMILIES, parameter
    from gatosuite.evaluation.fewshot_goal import GoalDemos
    from gatosuite.tokenization import TextModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path)
    ap.add_argument("--task", default="mw-reach-goal-heldout")
    ap.add_argument("--root", type=Path, required=True, help="where the held-out demonstrations are (collected)")
    ap.add_argument("--seeds", type=int, default=20, help="evaluation seeds from 1000")
    a = ap.parse_args()
    task = SUITE[a.task]
    if task.goal_family is None or not task.goal_family.startswith("mw-") or not task.heldout:
        raise SystemExit(f"error: '{a.task}' is not a Meta-World goal family's held-out task; "
                         "try mw-reach-goal-heldout")
    fam = GOAL_FAMILIES[task.goal_family]
    meta = read_config(a.checkpoint)
    demos = GoalDemos.collect(a.checkpoint, a.task, len(fam.pool(heldout=True)) * 4, a.root,
                                TextModel.load(a.checkpoint), meta)  # as fewshot_goal_family collects them

    def of_seed(seed: int):
        return demos.prompt(fam.variant(seed, True), 1) or []

    seeds = list(range(1000, 1000 + a.seeds))
    goals = np.array([parameter(task.goal_family, fam.variant(s, True)) for s in seeds])
    for label, prompts in (("zero-shot", None), ("prompt k=1", of_seed)):
        policy = DecoderPolicy(a.checkpoint, a.task, obs_stats=demos.stats, prompt_of_seed=prompts)
        finals, closest, success = [], [], []
        for seed, goal in zip(seeds, goals):
            env = SyncVectorEnv([lambda: make_task_env(a.task)], autoreset_mode=AutoresetMode.DISABLED)
            obs, _ = env.reset(seed=[seed])
            if prompts:
                policy.set_episode_seeds([seed])
            policy.reset(1)
            hand, near, ok = obs["state"][0, :3], np.inf, False
            while True:
                obs, _, term, trunc, info = env.step(policy.act(obs))
                hand = obs["state"][0, :3]
                near, ok = min(near, float(np.linalg.norm(hand - goal))), ok or bool(info["success"][0])
                if term[0] or trunc[0]:
                    break
            env.close()
            finals.append(hand)
            closest.append(near)
            success.append(ok)
        f = np.array(finals)
        corr = ("  corr(final hand, goal) " + " ".join(
            f"{axis} {np.corrcoef(f[:, j], goals[:, j])[0, 1]:.2f}" for j, axis in enumerate("xyz"))
            if len(seeds) >= 3 else "")  # a correlation needs a few goals
        print(f"{label:>10}: success {np.mean(success):.2f}  closest approach {np.mean(closest):.3f} m  "
              f"final distance {np.mean(np.linalg.norm(f - goals, axis=1)):.3f} m{corr}", flush=True)
    print(f"goals' spread (std) x {goals[:, 0].std():.3f} y {goals[:, 1].std():.3f} z {goals[:, 2].std():.3f} m "
          f"over {len(seeds)} seeds")


if __name__ == "__main__":
    main()
