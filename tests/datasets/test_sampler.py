from collections import Counter

import numpy as np
import pytest
from gymnasium import spaces

from gatosuite.datasets.cache import write_cache
from gatosuite.datasets.sampler import MixedSampler
from gatosuite.tokenization import Tokenizer, TokenKind, Vocabulary
from gatosuite.tokenization.tokenizer import encode_documents


def _env_cache(tmp_path, name, episodes=6, steps=(20, 40)):
    tok = Tokenizer.from_spaces(spaces.Box(-np.inf, np.inf, (4,), np.float32), spaces.Discrete(2))
    rng = np.random.default_rng(len(name))
    seqs = []
    for _ in range(episodes):
        t = int(rng.integers(*steps))
        seqs.append(tok.encode_episode(rng.normal(size=(t, 4)).astype(np.float32), rng.integers(0, 2, t)))
    return write_cache(tmp_path / name, seqs, {"task": name, "tokens_per_timestep": tok.spec.tokens_per_timestep}), tok


def test_heldout_tasks_need_explicit_naming(tmp_path):
    c, _ = _env_cache(tmp_path, "a")
    with pytest.raises(ValueError, match="'inverted-double-pendulum' is held out"):
        MixedSampler({"cartpole": c, "inverted-double-pendulum": c})
    MixedSampler({"inverted-double-pendulum": c}, allow_heldout=["inverted-double-pendulum"])
    with pytest.raises(KeyError, match="unknown task"):
        MixedSampler({"nope": c})


def test_windows_are_whole_timesteps_and_prompted_a_quarter_of_the_time(tmp_path):
    c, tok = _env_cache(tmp_path, "a")
    L = tok.spec.tokens_per_timestep  # 4 obs + | + 1 action = 6
    s = MixedSampler({"cartpole": c}, window=100, seed=0)
    for _ in range(400):
        _, w = s.sample()
        assert len(w) % L == 0 and len(w) <= 100
        k = w.kinds.reshape(-1, L)
        assert (k[:, 4] == TokenKind.SEPARATOR).all() and (k[:, 5] == TokenKind.ACTION_DISCRETE).all()
    assert 0.2 < s.stats["prompted"] / s.stats["windows"] < 0.3


def test_task_weights_and_exact_resume(tmp_path):
    a, _ = _env_cache(tmp_path, "a")
    b, _ = _env_cache(tmp_path, "b")
    s = MixedSampler({"cartpole": a, "acrobot": b}, {"cartpole": 3.0, "acrobot": 1.0}, window=60, seed=1)
    counts = Counter(s.sample_many(2000)[0])
    assert 0.7 < counts["cartpole"] / 2000 < 0.8
    state = s.state_dict()
    nxt = s.sample_many(5)[1]
    s2 = MixedSampler({"cartpole": a, "acrobot": b}, {"cartpole": 3.0, "acrobot": 1.0}, window=60, seed=99)
    s2.load_state_dict(state)
    for x, y in zip(nxt, s2.sample_many(5)[1]):
        np.testing.assert_array_equal(x.ids, y.ids)


def test_text_windows_are_packed_full(tmp_path, text_model):
    docs = encode_documents(text_model, Vocabulary(text_model.vocab_size),
                            ["go to the red ball", "pick up a key", "the quick brown fox"] * 5)
    c = write_cache(tmp_path / "t", docs, {"task": "text-lm"})
    s = MixedSampler({"text-lm": c}, window=50, seed=0)
    for _ in range(20):
        _, w = s.sample()
        assert len(w) == 50 and (w.kinds == TokenKind.TEXT).all() and w.loss_mask.all()


def test_train_and_val_splits_are_disjoint(tmp_path):
    c, _ = _env_cache(tmp_path, "a", episodes=10)
    tr = MixedSampler({"cartpole": c}, split="train", val_fraction=0.2)
    va = MixedSampler({"cartpole": c}, split="val", val_fraction=0.2)
    assert list(tr.episodes["cartpole"]) == list(range(8)) and list(va.episodes["cartpole"]) == [8, 9]


def test_rows_pack_short_segments(tmp_path):
    """With segment_steps, each row holds several segments of at most that many timesteps, within the
    window; without it, one window per row."""
    a, _ = _env_cache(tmp_path, "a")
    b, _ = _env_cache(tmp_path, "b")
    caches = {"cartpole": a, "acrobot": b}
    s = MixedSampler(caches, window=60, seed=0, segment_steps=2)
    rows = s.sample_rows(8)
    assert len(rows) == 8 and all(sum(len(q) for _, q in r) <= 60 for r in rows)
    assert max(len(r) for r in rows) > 1
    for r in rows:
        for task, seq in r:
            assert len(seq) <= 2 * caches[task].tokens_per_timestep
    assert all(len(r) == 1 for r in MixedSampler(caches, window=60, seed=0).sample_rows(4))


def _goal_cache(tmp_path, variants):
    """Episodes whose every observation value is their variant's id, so tokens tell the variant."""
    tok = Tokenizer.from_spaces(spaces.Box(-np.inf, np.inf, (4,), np.float32), spaces.Discrete(2))
    seqs = [tok.encode_episode(np.full((30, 4), v, np.float32), np.zeros(30, np.int64)) for v in variants]
    meta = {"task": "reacher-goal", "tokens_per_timestep": tok.spec.tokens_per_timestep, "variants": variants}
    return write_cache(tmp_path / "goal", seqs, meta), tok


@pytest.mark.parametrize("mode", ["gato", "end", "whole"])
def test_goal_family_prompts_come_from_the_same_goal(tmp_path, mode):
    variants = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]
    c, tok = _goal_cache(tmp_path, variants)
    L = tok.spec.tokens_per_timestep
    s = MixedSampler({"reacher-goal": c}, window=60, seed=0, prompt_prob=1.0, prompt_mode=mode)
    for _ in range(200):
        _, w = s.sample()
        obs = w.ids[w.kinds == TokenKind.CONTINUOUS]
        assert len(set(obs.tolist())) == 1  # prompt and episode: one goal
        first = w.timestep.reshape(-1, L)[:, 0]
        if mode == "whole":
            assert first[0] == 0  # the demonstration from its start
    assert s.stats["prompted"] == 200
    # without the variants in the cache, prompts are any episode of the task: goals mix
    plain = write_cache(tmp_path / "plain", [c.episode(i) for i in range(len(c))],
                        {"task": "reacher-goal", "tokens_per_timestep": L})
    s = MixedSampler({"reacher-goal": plain}, window=60, seed=0, prompt_prob=1.0)
    mixed = sum(len(set(w.ids[w.kinds == TokenKind.CONTINUOUS].tolist())) > 1 for w in s.sample_many(100)[1])
    assert mixed > 30


def test_goal_family_windows_can_start_where_only_the_prompt_tells_the_goal(tmp_path):
    c, tok = _goal_cache(tmp_path, [0, 1, 0, 1])
    L = tok.spec.tokens_per_timestep

    def episode_starts(start_prob):
        s = MixedSampler({"reacher-goal": c}, window=60, seed=0, prompt_prob=1.0, prompt_mode="end",
                         goal_start_prob=start_prob)
        starts = []
        for _ in range(200):
            _, w = s.sample()
            first = w.timestep.reshape(-1, L)[:, 0]
            starts.append(int(first[len(first) // 2]))  # the prompt holds half the window; the episode follows
        return np.array(starts)

    assert (episode_starts(1.0) == 0).all()
    assert 0.35 < (episode_starts(0.5) == 0).mean() < 0.65
    assert (episode_starts(0.0) == 0).mean() < 0.15  # uniform over 30 - 3 + 1 starts
    with pytest.raises(ValueError, match="goal_start_prob is a probability"):
        MixedSampler({"reacher-goal": c}, goal_start_prob=1.5)


def test_unknown_prompt_mode_is_an_error(tmp_path):
    c, _ = _env_cache(tmp_path, "a")
    with pytest.raises(ValueError, match="prompt mode 'middle' is unknown; use one of gato, end, whole"):
        MixedSampler({"cartpole": c}, prompt_mode="middle")
