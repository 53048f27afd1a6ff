"""Goal families (hidden-parameter tasks): the goal is set by the seed, hidden from the observation (shown
to the oracle), held-out goals are other values, and collection stores each episode's goal."""

import numpy as np
import pytest

from gatosuite.envs import SUITE, make_task_env
from gatosuite.envs.hidden import GOAL_FAMILIES, VARIANT, parameter


@pytest.mark.slow
def test_every_goal_family_has_four_tasks_and_disjoint_goals():
    for name, fam in GOAL_FAMILIES.items():
        ids = {t.id for t in SUITE.select("hidden-param") if t.goal_family == name}
        assert ids == {name, f"{name}-heldout", f"{name}-oracle", f"{name}-oracle-heldout"}
        assert SUITE[f"{name}-heldout"].heldout and not SUITE[name].heldout
        assert (fam.train, fam.heldout) >= ((14, 4) if name == "babyai-goto-goal" else (50, 10))
        train = {tuple(np.round(parameter(name, v), 6)) for v in fam.pool(False)}
        held = {tuple(np.round(parameter(name, v), 6)) for v in fam.pool(True)}
        assert len(train) == fam.train and len(held) == fam.heldout and not train & held


def test_seeds_of_a_variant_play_it():
    fam = GOAL_FAMILIES["reacher-goal"]
    for v in (0, 7, 49, 50, 59):
        for s in fam.seeds_of(v, 3, start=1000 if v >= fam.train else 0):
            assert fam.variant(s, v >= fam.train) == v


@pytest.mark.parametrize("goal_family", ["reacher-goal", "mw-reach-goal", "dmc-point_mass-goal"])
def test_the_goal_is_hidden_and_the_oracle_sees_it(goal_family):
    fam = GOAL_FAMILIES[goal_family]
    hidden = make_task_env(f"{goal_family}-heldout", expert=True)
    shown = make_task_env(f"{goal_family}-oracle-heldout")
    h, info = hidden.reset(seed=1003)
    o, oinfo = shown.reset(seed=1003)
    v = info[VARIANT]
    assert v == oinfo[VARIANT] == fam.variant(1003, heldout=True) and v >= fam.train
    keep = [i for i in range(o["state"].shape[0]) if i not in fam.hide]
    np.testing.assert_allclose(h["state"], o["state"][keep])
    goal = parameter(goal_family, v)
    shown_goal = o["state"][list(fam.hide)][: len(goal)]
    np.testing.assert_allclose(shown_goal, goal, atol=1e-5)
    assert not np.isin(np.round(goal, 5), np.round(h["state"], 5)).all()
    hidden.close()
    shown.close()


@pytest.mark.parametrize("goal_family", sorted(GOAL_FAMILIES))
def test_episodes_of_one_goal_start_from_different_observations(goal_family):
    """If every episode of a goal began from the same observation, a model could recall the goal from it
    and would never need the prompt (Meta-World's ML1 tasks did this until the object was drawn per episode)."""
    env = make_task_env(goal_family)
    firsts = set()
    for seed in GOAL_FAMILIES[goal_family].seeds_of(2, 3):
        obs, _ = env.reset(seed=seed)
        firsts.add(b"".join(np.asarray(v).tobytes() for k, v in sorted(obs.items()) if k != "mission"))
    assert len(firsts) == 3
    env.close()


@pytest.mark.parametrize("goal_family", ["mw-reach-goal", "mw-push-goal"])
def test_the_meta_world_object_does_not_name_the_goal(goal_family):
    """ML1 fixes the object's position with each goal, so a visible object would tell the training goals
    apart without a prompt; the goal family draws it per episode (by seed), independently of the goal."""
    fam = GOAL_FAMILIES[goal_family]
    env = make_task_env(goal_family)
    objects = {}
    for seed in fam.seeds_of(3, 4) + fam.seeds_of(8, 4):
        obs, info = env.reset(seed=seed)
        objects[seed] = obs["state"][4:7].copy()
        goal = parameter(goal_family, info[VARIANT])
        assert np.linalg.norm(objects[seed][:2] - goal[:2]) >= 0.15  # as Meta-World's reset requires
    same_goal = [objects[s] for s in fam.seeds_of(3, 4)]
    assert len({tuple(np.round(o, 4)) for o in same_goal}) == 4  # one goal, four object positions
    again, _ = env.reset(seed=fam.seeds_of(3, 1)[0])
    np.testing.assert_array_equal(again["state"][4:7], same_goal[0])  # and the seed fixes it
    env.close()


@pytest.mark.slow
def test_a_meta_world_goal_family_dataset_names_its_version_and_an_older_one_is_not_reused(tmp_path):
    import json

    from gatosuite.datasets import minari_store
    from gatosuite.datasets.collect import collect
    from gatosuite.errors import ConfigError

    collect("mw-reach-goal", 1, tmp_path, progress=False)
    meta_file = next((tmp_path / "minari").rglob("metadata.json"))
    meta = json.loads(meta_file.read_text())
    assert meta["algorithm_name"].endswith(", object drawn per episode")
    meta["algorithm_name"] = meta["algorithm_name"].removesuffix(", object drawn per episode")  # as before the change
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match="pass --overwrite"):
        collect("mw-reach-goal", 1, tmp_path, progress=False)
    assert minari_store.load(tmp_path, "mw-reach-goal").total_episodes == 1  # and nothing was lost


def test_the_expert_reaches_the_hidden_goal_and_collection_stores_it(tmp_path):
    from gatosuite.datasets import minari_store
    from gatosuite.datasets.collect import collect

    collect("reacher-goal", 4, tmp_path, progress=False)
    eps = list(minari_store.iter_episodes(tmp_path, "reacher-goal"))
    fam = GOAL_FAMILIES["reacher-goal"]
    assert [e.variant for e in eps] == [fam.variant(e.seed, False) for e in eps] == [0, 1, 2, 3]
    for e in eps:  # the fingertip ends at the episode's own goal (fingertip = arm angles' forward kinematics)
        c, s = e.observations["state"][-1][:2], e.observations["state"][-1][2:4]
        tip = np.array([0.1 * c[0] + 0.11 * (c[0] * c[1] - s[0] * s[1]),
                        0.1 * s[0] + 0.11 * (s[0] * c[1] + c[0] * s[1])])
        assert np.linalg.norm(tip - parameter("reacher-goal", e.variant)) < 0.02


def test_the_point_mass_expert_stops_on_the_hidden_target(tmp_path):
    """dmc-point_mass-goal moves dm_control's target; the expert and the reward follow it."""
    from gatosuite.datasets import minari_store
    from gatosuite.datasets.collect import collect

    collect("dmc-point_mass-goal", 2, tmp_path, progress=False)
    for e in minari_store.iter_episodes(tmp_path, "dmc-point_mass-goal"):
        target = parameter("dmc-point_mass-goal", e.variant)
        assert np.linalg.norm(e.observations["state"][-1][:2] - target) < 0.015  # inside the target's radius
        assert np.linalg.norm(target) > 0.05 and e.rewards[-1] > 0.9 and e.rewards[0] < 0.1


def test_the_dm_control_reacher_goal_family_hides_the_finger_to_target_vector(tmp_path):
    """dmc-reacher-goal moves dm_control's target: the oracle's finger-to-target entries point at the
    variant's target, the hidden task keeps only the joint angles and velocities, and the expert's finger
    ends on the moved target (dm_control's sparse reward is 1 there)."""
    from gatosuite.datasets import minari_store
    from gatosuite.datasets.collect import collect
    from gatosuite.envs.physics import dm_physics

    fam = GOAL_FAMILIES["dmc-reacher-goal"]
    hidden, shown = make_task_env("dmc-reacher-goal-heldout"), make_task_env("dmc-reacher-goal-oracle-heldout")
    h, info = hidden.reset(seed=1004)
    o, _ = shown.reset(seed=1004)
    finger = dm_physics(shown).named.data.geom_xpos["finger", :2]
    np.testing.assert_allclose(o["state"][2:4], parameter("dmc-reacher-goal", info[VARIANT]) - finger, atol=1e-5)
    np.testing.assert_allclose(h["state"], o["state"][[0, 1, 4, 5]])
    assert info[VARIANT] == fam.variant(1004, heldout=True)
    hidden.close()
    shown.close()
    collect("dmc-reacher-goal", 2, tmp_path, progress=False)
    for e in minari_store.iter_episodes(tmp_path, "dmc-reacher-goal"):
        assert e.observations["state"].shape[1] == 4 and e.rewards[-1] == 1.0 and e.rewards.sum() > 50


def test_babyai_goal_family_withholds_the_mission_and_the_bot_goes_to_the_target():
    from gatosuite.envs.hidden import BABYAI_TARGETS, HIDDEN_MISSION

    fam = GOAL_FAMILIES["babyai-goto-goal"]
    held = {BABYAI_TARGETS[v] for v in fam.pool(True)}
    train = {BABYAI_TARGETS[v] for v in fam.pool(False)}
    assert not held & train and {c for c, _ in held} <= {c for c, _ in train}
    env = make_task_env("babyai-goto-goal-heldout", expert=True)
    oracle = make_task_env("babyai-goto-goal-oracle-heldout")
    for seed in (1000, 1001, 1002):
        obs, info = env.reset(seed=seed)
        shown, _ = oracle.reset(seed=seed)
        color, kind = BABYAI_TARGETS[info[VARIANT]]
        assert obs["mission"] == HIDDEN_MISSION and shown["mission"].endswith(f"{color} {kind}")
        np.testing.assert_array_equal(obs["image"], shown["image"])  # the same level
        done, success = False, False
        while not done:
            obs, r, term, trunc, info = env.step(info["expert_action"])
            done, success = term or trunc, r > 0
        assert success
    env.close()
    oracle.close()


def test_a_task_names_its_goal_family_and_family_means_only_a_model_family():
    """"family" alone is a model family (agent/families.py); the registry calls a hidden-goal task's group its
    goal family, so a `family` field coming back would give the word two meanings again."""
    from dataclasses import fields

    from gatosuite.envs.registry import TaskSpec

    assert "family" not in {f.name for f in fields(TaskSpec)} and not hasattr(SUITE["reacher-goal"], "family")
    for name in GOAL_FAMILIES:
        for suffix in ("", "-heldout", "-oracle", "-oracle-heldout"):
            assert SUITE[f"{name}{suffix}"].goal_family == name
    assert SUITE["cartpole"].goal_family is None
    assert {t.goal_family for t in SUITE.select("hidden-param")} == set(GOAL_FAMILIES)
