import gymnasium as gym
import pytest

import gatosuite.envs  # noqa: F401
from gatosuite.envs import SUITE
from gatosuite.envs.registry import Suite, TaskSpec

SIM_DOMAINS = {"classic", "mujoco", "dmc", "dmc-pixels", "metaworld", "babyai"}


def test_suite_spans_the_domains_and_modalities():
    domains = {t.domain for t in SUITE}
    assert SIM_DOMAINS | {"text", "caption"} <= domains
    mods = {m for t in SUITE for m in t.modalities}
    assert {"text", "image", "discrete", "continuous"} <= mods
    assert len(SUITE.tagged("mt10")) == 10
    assert len([t for t in SUITE.tagged("babyai") if "train" in t.tags]) >= 8
    assert any(t.obs_mode == "pixels" for t in SUITE)


def test_heldout_tasks_are_marked_and_never_trained_by_default():
    held = SUITE.tagged("heldout")
    assert len(held) >= 4 and all(t.why_heldout for t in held)
    default = {t.id for t in SUITE.training_tasks()}
    assert not default & {t.id for t in held}
    assert "inverted-double-pendulum" in {t.id for t in SUITE.training_tasks(["inverted-double-pendulum"])}


def test_selectors_and_unknown_ids():
    assert {t.id for t in SUITE.select("babyai")} == {t.id for t in SUITE if t.domain == "babyai"}
    assert [t.id for t in SUITE.select("cartpole,reacher")] == ["cartpole", "reacher"]
    assert len(SUITE.select("all")) == len(SUITE)
    assert {t.domain for t in SUITE.select("dmc,dmc-pixels,cartpole")} == {"dmc", "dmc-pixels", "classic"}
    with pytest.raises(KeyError, match="unknown task 'cartpol'; known: .*cartpole"):
        SUITE["cartpol"]
    with pytest.raises(KeyError, match="unknown task"):
        SUITE.training_tasks(["nope"])


def test_registered_with_gymnasium():
    env = gym.make("gatosuite/cartpole-v0")
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"state"} and obs["state"].shape == (4,)
    env.close()


def test_task_spec_validation():
    with pytest.raises(ValueError, match="exactly one of 'train' or 'heldout'"):
        TaskSpec("x", "classic", frozenset({"classic"}), ("continuous",))
    with pytest.raises(ValueError, match="must say why"):
        TaskSpec("x", "classic", frozenset({"heldout"}), ("continuous",))
    s = Suite()
    s.add(TaskSpec("x", "classic", frozenset({"train"}), ("continuous",)))
    with pytest.raises(ValueError, match="already registered"):
        s.add(TaskSpec("x", "classic", frozenset({"train"}), ("continuous",)))


def test_non_finite_state_is_a_clear_error():
    from gatosuite.envs import InvalidObservationError, make_task_env

    env = make_task_env("pendulum")
    env.reset(seed=0)
    env.unwrapped.state = [float("nan"), 0.0]
    with pytest.raises(InvalidObservationError, match="task 'pendulum' produced a non-finite state"):
        env.step([0.0])


@pytest.mark.parametrize("task_id", ["cartpole", "reacher", "mw-reach", "dmc-point_mass-easy"])
def test_episode_length_is_what_the_env_runs(task_id):
    from gatosuite.envs import make_task_env

    env = make_task_env(task_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    steps, done = 0, False
    while not done:
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        steps += 1
        done = term or trunc
    assert trunc and steps == SUITE[task_id].episode_length or term and steps < SUITE[task_id].episode_length


def test_episode_success_rule():
    from gatosuite.envs.success import episode_success

    assert episode_success([0.0, 1.0, 0.0], terminated=False, last_reward=0.0)  # Meta-World: any step
    assert not episode_success([0.0, 0.0], terminated=True, last_reward=5.0)  # its flags decide
    assert episode_success([], terminated=True, last_reward=0.9)  # BabyAI: done with reward
    assert not episode_success([], terminated=False, last_reward=0.9)  # timed out
