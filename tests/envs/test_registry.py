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
    with pytest.raises(ValueError, match="exactly one of below-bar, heldout, train"):
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


def test_the_meta_world_tags_are_meta_worlds_own_splits():
    from metaworld import env_dict

    def names(tag):
        return {t.id.removeprefix("mw-") for t in SUITE.select(tag) if t.goal_family is None}

    v3 = lambda names: {n.removesuffix("-v3") for n in names}  # noqa: E731
    assert names("metaworld") == v3(env_dict.MT50_V3) and len(names("metaworld")) == 50
    assert names("mt10") == v3(env_dict.MT10_V3)
    assert names("ml10-train") == v3(env_dict.ML10_V3["train"]) and names("ml10-test") == v3(env_dict.ML10_V3["test"])
    assert names("ml45-train") == v3(env_dict.ML45_V3["train"]) and names("ml45-test") == v3(env_dict.ML45_V3["test"])
    held = {t.id.removeprefix("mw-") for t in SUITE.tagged("heldout") if t.domain == "metaworld" and not t.goal_family}
    assert held == names("ml45-test") | (names("ml10-test") - names("mt10"))


def test_babyai_has_every_level_class_minigrid_registers():
    import minigrid  # noqa: F401  (registers the BabyAI levels)

    classes = {str(s.entry_point).rsplit(":", 1)[1] for i, s in gym.registry.items() if i.startswith("BabyAI-")}
    ours = {str(gym.spec(t.gym_id).entry_point).rsplit(":", 1)[1] for t in SUITE
            if t.domain == "babyai" and t.goal_family is None}
    assert ours == classes and len(classes) >= 40


def test_the_suite_has_its_breadth_every_task_with_an_expert():
    from gatosuite.envs.experts import EXPERTS, _load_all

    _load_all()
    tasks = [t for t in SUITE if t.is_env and t.goal_family is None]
    assert all(t.expert in EXPERTS for t in tasks)
    gym_mujoco = {t.gym_id for t in tasks if t.domain == "mujoco"}
    assert len(gym_mujoco) == 11 and all(g.endswith("-v5") for g in gym_mujoco)
    dmc = [t for t in tasks if t.domain in ("dmc", "dmc-pixels")]
    assert len([t for t in dmc if t.domain == "dmc"]) >= 16 and len([t for t in dmc if t.domain == "dmc-pixels"]) >= 2
    assert len(dmc) >= 20 and len(tasks) >= 125


def test_sample_per_domain_is_seeded_and_keeps_small_domains_whole():
    a, b = SUITE.sample_per_domain(3), SUITE.sample_per_domain(3)
    assert [t.id for t in a] == [t.id for t in b]
    per = {d: [t for t in a if t.domain == d] for d in {t.domain for t in SUITE}}
    for d, picked in per.items():
        assert len(picked) == min(3, len([t for t in SUITE if t.domain == d])), d
    assert [t.id for t in SUITE.sample_per_domain(3, seed=1)] != [t.id for t in a]


def test_an_expert_module_whose_simulator_is_missing_is_skipped_and_named(monkeypatch):
    # an install with only some simulators still loads the other experts; asking for a skipped one says why
    import importlib

    from gatosuite.envs import experts
    from gatosuite.errors import UnknownNameError

    real = importlib.import_module

    def fake(name, *a, **kw):
        if name.endswith(".metaworld_scripted"):
            raise ModuleNotFoundError("No module named 'metaworld'", name="metaworld.policies")
        return real(name, *a, **kw)

    monkeypatch.setattr(importlib, "import_module", fake)
    monkeypatch.setattr(experts, "_UNLOADED", {})
    experts._load_all()
    assert "cartpole" in experts.EXPERTS and experts._UNLOADED == {"metaworld_scripted": "metaworld"}
    with pytest.raises(UnknownNameError, match="metaworld_scripted needs 'metaworld', which is not installed"):
        experts.make_expert("no-such-expert", None)


def test_a_missing_module_of_gatosuite_itself_is_not_hidden(monkeypatch):
    import importlib

    from gatosuite.envs import experts

    real = importlib.import_module

    def fake(name, *a, **kw):
        if name.endswith(".classic"):
            raise ModuleNotFoundError("No module named 'gatosuite.envs.gone'", name="gatosuite.envs.gone")
        return real(name, *a, **kw)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ModuleNotFoundError, match="gatosuite.envs.gone"):
        experts._load_all()
