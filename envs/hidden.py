"""Goal families: hidden-parameter tasks whose goal only a demonstration reveals (Prompt-DT's setting).

A goal family is one environment with a parameter (a goal position) that the expert reads but the
observation does not show. Its variants are fixed parameter values, numbered 0..train+heldout-1: the first `train`
are training variants, the rest are held out, so held-out goals are values never seen in training. Each
goal family is registered as four tasks (envs/suite.py):

=================================  ==========  =================================================
task                               variants    observation
=================================  ==========  =================================================
``<goal family>``                  training    parameter hidden (what the generalist trains on)
``<goal family>-heldout``          held out    parameter hidden (few-shot evaluation)
``<goal family>-oracle``           training    parameter visible (the oracle's training data)
``<goal family>-oracle-heldout``   held out    parameter visible (the oracle's evaluation)
=================================  ==========  =================================================

An episode's variant follows from its reset seed, `pool[seed % len(pool)]`, so collection and
evaluation stay the seeded processes they are for every other task, and seeds `j + m * len(pool)` all
play variant `pool[j]` (demonstrations of one goal on different start states). The variant is reported
in `info['variant']` at reset and stored with each collected episode.

* ``reacher-goal`` (Gymnasium MuJoCo Reacher-v5): the target's position and the fingertip-to-target
  vector are dropped from the observation; 50 + 10 targets drawn once in the arm's reach.
* ``dmc-point_mass-goal`` (dm_control point_mass-easy): the target is moved off the arena's centre to one of
  50 + 10 positions; the raw observation gains the target's position (for the oracle), which the hidden
  task drops, so the mass's own position and velocity are all it sees. Episodes are 500 steps.
* ``dmc-reacher-goal`` (dm_control reacher-easy): the target is placed at one of 50 + 10 positions drawn
  as dm_control draws its own; the finger-to-target vector is dropped, so the hidden task sees the two
  joint angles and velocities. Its reward is dm_control's sparse one (1 with the finger on the target,
  else 0); episodes are 100 steps.
* ``babyai-goto-goal`` (BabyAI GoToLocal): the mission reads "go to the object"; the target is one of
  18 colour-type pairs, 4 of which (each colour and type seen in training, the pair never) are held out.
  A level of the episode's seed is redrawn until its target is the variant's.
* ``mw-reach-goal`` and ``mw-push-goal`` (Meta-World v3): the goal coordinates (observation 36:39) are
  dropped; the variants are Meta-World's own ML1 goals (its 50 training goals, and 10 of its test goals,
  generated from another seed), with the goal kept in the raw observation for the scripted expert. ML1
  fixes the object's position with each goal; here it is drawn anew every episode, so that the visible
  object does not name the goal.
"""

from __future__ import annotations

import functools
import pickle
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .physics import dm_observation, dm_physics

VARIANT = "variant"
"""The info key (at reset) and the per-episode dataset field holding the episode's variant."""


@dataclass(frozen=True)
class GoalFamily:
    """A goal family: how many variants, and which canonical state entries hide the goal."""

    name: str
    train: int
    heldout: int
    hide: tuple[int, ...]
    """Indices of the canonical state vector that reveal the parameter; hidden tasks drop them."""

    def pool(self, heldout: bool) -> range:
        return range(self.train, self.train + self.heldout) if heldout else range(self.train)

    def variant(self, seed: int, heldout: bool) -> int:
        pool = self.pool(heldout)
        return pool[seed % len(pool)]

    def seeds_of(self, variant: int, count: int, start: int = 0) -> list[int]:
        """`count` seeds >= start whose episodes play `variant`."""
        pool = self.pool(variant >= self.train)
        j = pool.index(variant)
        first = start + (j - start) % len(pool)
        return [first + m * len(pool) for m in range(count)]


BABYAI_COLORS = ("blue", "green", "grey", "purple", "red", "yellow")
BABYAI_TYPES = ("ball", "box", "key")
BABYAI_HELDOUT = (("blue", "box"), ("green", "key"), ("purple", "ball"), ("yellow", "box"))
"""Held-out targets: colour-type pairs never the target in training, though each colour and each type is."""
BABYAI_TARGETS = tuple([(c, t) for c in BABYAI_COLORS for t in BABYAI_TYPES if (c, t) not in BABYAI_HELDOUT]
                       + list(BABYAI_HELDOUT))
HIDDEN_MISSION = "go to the object"
"""What the observation's mission says in the BabyAI goal family: the target is withheld."""

DM_TARGET_GOAL_FAMILIES = ("dmc-point_mass-goal", "dmc-reacher-goal")
"""Goal families on dm_control suite tasks whose goal is the position of the model's 'target' geom."""

GOAL_FAMILIES = {
    "reacher-goal": GoalFamily("reacher-goal", 50, 10, hide=(4, 5, 8, 9)),
    "dmc-point_mass-goal": GoalFamily("dmc-point_mass-goal", 50, 10, hide=(2, 3)),  # position, target, velocity
    "dmc-reacher-goal": GoalFamily("dmc-reacher-goal", 50, 10, hide=(2, 3)),  # angles, finger-to-target, velocity
    "babyai-goto-goal": GoalFamily("babyai-goto-goal", 14, 4, hide=()),
    "mw-reach-goal": GoalFamily("mw-reach-goal", 50, 10, hide=(36, 37, 38)),
    "mw-push-goal": GoalFamily("mw-push-goal", 50, 10, hide=(36, 37, 38)),
}


@functools.lru_cache(maxsize=None)
def reacher_targets() -> np.ndarray:
    """(60, 2) target positions, fixed for good: uniform over the disc of radius 0.2 that Reacher-v5 itself
    samples from, at least 0.05 from the base."""
    rng = np.random.default_rng(20221)
    out = []
    while len(out) < 60:
        g = rng.uniform(-0.2, 0.2, 2)
        if 0.05 <= np.linalg.norm(g) < 0.2:
            out.append(g)
    return np.array(out)


@functools.lru_cache(maxsize=None)
def point_mass_targets() -> np.ndarray:
    """(60, 2) target positions, fixed for good: uniform in [-0.2, 0.2]^2, inside the arena's walls at 0.3."""
    return np.random.default_rng(20222).uniform(-0.2, 0.2, (60, 2))


@functools.lru_cache(maxsize=None)
def dmc_reacher_targets() -> np.ndarray:
    """(60, 2) target positions, fixed for good, drawn as dm_control's reacher draws its own: a uniform angle
    and a radius uniform in [0.05, 0.2] (the arm reaches 0.24)."""
    rng = np.random.default_rng(20223)
    angle, radius = rng.uniform(0, 2 * np.pi, 60), rng.uniform(0.05, 0.2, 60)
    return np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)


@functools.lru_cache(maxsize=None)
def metaworld_goal_tasks(env_name: str) -> tuple[Any, ...]:
    """Meta-World tasks of the 60 variants: ML1's 50 training goals, then 10 of its test goals, re-encoded
    with the goal left in the raw observation (the scripted expert reads it there; the task hides it)."""
    import metaworld

    ml1 = metaworld.ML1(env_name, seed=0)
    out = []
    for task in list(ml1.train_tasks) + list(ml1.test_tasks[:10]):
        data = pickle.loads(task.data)  # noqa: S301 - Meta-World's own in-process task record
        data["partially_observable"] = False
        out.append(metaworld.Task(env_name=task.env_name, data=pickle.dumps(data)))
    return tuple(out)


def parameter(goal_family: str, variant: int) -> np.ndarray:
    """The hidden parameter of a variant (a goal position)."""
    if goal_family == "reacher-goal":
        return reacher_targets()[variant]
    if goal_family == "dmc-point_mass-goal":
        return point_mass_targets()[variant]
    if goal_family == "dmc-reacher-goal":
        return dmc_reacher_targets()[variant]
    if goal_family == "babyai-goto-goal":
        color, kind = BABYAI_TARGETS[variant]
        return np.array([BABYAI_COLORS.index(color), BABYAI_TYPES.index(kind)])
    data = pickle.loads(metaworld_goal_tasks(_mw_env_name(goal_family))[variant].data)  # noqa: S301
    return np.asarray(data["rand_vec"][-3:], np.float64)


def _mw_env_name(goal_family: str) -> str:
    return f"{goal_family.removeprefix('mw-').removesuffix('-goal')}-v3"


class SetVariant(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Sets the raw env's goal to the variant the reset seed selects, and reports it in info['variant'].
    It sits under the expert, which therefore acts on the true goal."""

    def __init__(self, env: gym.Env, goal_family: str, heldout: bool) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, goal_family=goal_family, heldout=heldout)
        super().__init__(env)
        self.goal_family, self.heldout = GOAL_FAMILIES[goal_family], heldout
        self._rng = np.random.default_rng()
        if goal_family.startswith("mw-"):
            node = env
            while not hasattr(node, "tasks"):
                node = node.env
            node.toggle_sample_tasks_on_reset(False)
            self._tasks = metaworld_goal_tasks(_mw_env_name(goal_family))
        if goal_family == "dmc-point_mass-goal":  # the raw observation shows the target; the hidden task drops it
            self.observation_space = spaces.Dict({**env.observation_space.spaces,
                                                  "target": spaces.Box(-np.inf, np.inf, (2,), np.float64)})

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is not None:
            variant = self.goal_family.variant(seed, self.heldout)
            self._rng = np.random.default_rng(seed)
        else:  # unseeded: a variant of the pool from this env's own generator
            variant = int(self._rng.choice(self.goal_family.pool(self.heldout)))
        u = self.env.unwrapped
        if self.goal_family.name == "babyai-goto-goal":
            obs, info = self._babyai_reset(variant, seed, options)
        elif self.goal_family.name == "reacher-goal":
            obs, info = self.env.reset(seed=seed, options=options)
            qpos, qvel = u.data.qpos.copy(), u.data.qvel.copy()
            qpos[-2:] = reacher_targets()[variant]
            qvel[-2:] = 0.0
            u.set_state(qpos, qvel)
            obs = u._get_obs()
        elif self.goal_family.name in DM_TARGET_GOAL_FAMILIES:  # dm_control: move the model's target geom
            _, info = self.env.reset(seed=seed, options=options)
            physics = dm_physics(self.env)
            physics.named.model.geom_pos["target", :2] = parameter(self.goal_family.name, variant)
            physics.forward()  # the observation, the expert and the reward read the moved target
            obs = dm_observation(self.env)
            if self.goal_family.name == "dmc-point_mass-goal":
                obs = self._with_target(obs)
        else:
            if seed is not None:
                u.seed(seed)
            u.set_task(self._with_object(self._tasks[variant]))
            obs, info = self.env.reset(seed=seed, options=options)
        info[VARIANT] = variant
        return obs, info

    def step(self, action: Any):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.goal_family.name == "dmc-point_mass-goal":
            obs = self._with_target(obs)
        return obs, reward, terminated, truncated, info

    def _with_object(self, task: Any) -> Any:
        """The variant's Meta-World task with the object placed anew for this episode (from the reset
        seed's generator), at least 0.15 from the goal in the plane as Meta-World's own reset requires.
        ML1 fixes the object's position along with the goal, so a visible object position would name each
        training goal, and a model could recall the goal from it instead of reading the prompt."""
        import metaworld

        data = pickle.loads(task.data)  # noqa: S301 - Meta-World's own in-process task record
        space = self.env.unwrapped._random_reset_space
        goal = np.asarray(data["rand_vec"][-3:], np.float64)
        for _ in range(1000):
            obj = self._rng.uniform(space.low[:3], space.high[:3])
            if np.linalg.norm(obj[:2] - goal[:2]) >= 0.15:
                break
        else:
            raise RuntimeError(f"no object position 0.15 away from goal {goal} in 1000 draws")
        data["rand_vec"] = np.concatenate([obj, goal])
        return metaworld.Task(env_name=task.env_name, data=pickle.dumps(data))

    def _with_target(self, obs: dict[str, Any]) -> dict[str, Any]:
        return {**obs, "target": dm_physics(self.env).named.model.geom_pos["target", :2].copy()}

    def _babyai_reset(self, variant: int, seed: int | None, options: dict[str, Any] | None):
        """GoToLocal levels drawn from seeds derived from `seed` until the target is the variant's
        (about 1 in 18 levels; a level takes well under a millisecond)."""
        want = BABYAI_TARGETS[variant]
        base = int(self._rng.integers(2**31)) if seed is None else seed * 1000
        for t in range(1000):
            obs, info = self.env.reset(seed=base + t, options=options)
            desc = self.env.unwrapped.instrs.desc
            if (desc.color, desc.type) == want:
                return obs, info
        raise RuntimeError(f"no GoToLocal level with target {want} in 1000 draws from seed {seed}")


class HideParameter(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Drops the entries of the canonical state that reveal the goal family's parameter (for BabyAI, replaces
    the mission by one that names no target)."""

    def __init__(self, env: gym.Env, goal_family: str) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, goal_family=goal_family)
        super().__init__(env)
        self.keep = None
        if "state" not in env.observation_space.spaces:  # BabyAI: the mission is what names the target
            return
        n = env.observation_space["state"].shape[0]
        hide = set(GOAL_FAMILIES[goal_family].hide)
        self.keep = np.array([i for i in range(n) if i not in hide])
        self.observation_space = spaces.Dict({"state": spaces.Box(-np.inf, np.inf, (len(self.keep),), np.float32)})

    def observation(self, observation: dict[str, Any]) -> dict[str, Any]:
        if self.keep is None:
            return {**observation, "mission": HIDDEN_MISSION}
        return {"state": observation["state"][self.keep]}
