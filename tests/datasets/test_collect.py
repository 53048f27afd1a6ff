"""Collection into Minari: round trip, per-episode seeds, resume after a real kill, corrupt files."""

import os
import signal
import subprocess
import sys
import time

import minari
import numpy as np
import pytest

from gatosuite.datasets import minari_store
from gatosuite.datasets.cache import open_cache
from gatosuite.datasets.collect import collect, staging_dir
from gatosuite.datasets.staging import CorruptDataError
from gatosuite.envs import make_task_env
from gatosuite.envs.reference import run_episode
from gatosuite.tokenization import TokenKind
from gatosuite.tokenization.task import task_tokenizer


@pytest.mark.slow
def test_collect_load_tokenize_roundtrip(tmp_path, text_model):
    r = collect("babyai-gotoredball", 4, tmp_path, workers=2, progress=False)
    assert r.episodes == 4 and r.success_rate == 1.0
    # a plain Minari load sees the dataset, with its reference scores and uncompressed frames
    os.environ["MINARI_DATASETS_PATH"] = str(minari_store.minari_root(tmp_path))
    try:
        ds = minari.load_dataset("gatosuite/babyai-gotoredball/expert-v0")
        assert ds.total_episodes == 4
        ep = next(ds.iterate_episodes())
        assert ep.observations["image"].dtype == np.uint8 and isinstance(ep.observations["mission"][0], str)
    finally:
        del os.environ["MINARI_DATASETS_PATH"]
    eps = list(minari_store.iter_episodes(tmp_path, "babyai-gotoredball"))
    assert [e.index for e in eps] == [0, 1, 2, 3] and [e.seed for e in eps] == [0, 1, 2, 3]
    # the frames stored are exactly what the env renders for that seed (no JPEG, no mixing of episodes)
    env = make_task_env("babyai-gotoredball")
    for e in eps:
        obs, _ = env.reset(seed=e.seed)
        assert np.array_equal(obs["image"], e.observations["image"][0])
        assert obs["mission"] == e.observations["mission"][0]
    # tokenize through the cache and decode the actions back
    tok = task_tokenizer("babyai-gotoredball", text_model)
    cache = open_cache(tmp_path, "babyai-gotoredball", tok)
    for i, e in enumerate(eps):
        seq = cache.episode(i)
        L = tok.spec.tokens_per_timestep
        assert len(seq) == len(e) * L
        ids = seq.ids.reshape(len(e), L)
        np.testing.assert_array_equal(tok.decode_actions(ids[:, -tok.spec.action_tokens:]), e.actions)
        assert (seq.kinds == TokenKind.IMAGE).sum() == len(e) * 16


def test_episode_seed_fixes_the_episode(tmp_path):
    collect("babyai-gotolocal", 3, tmp_path, progress=False)
    eps = list(minari_store.iter_episodes(tmp_path, "babyai-gotolocal"))
    env = make_task_env("babyai-gotolocal", expert=True)
    for e in eps:
        ret, _, steps = run_episode(env, e.seed, "expert")
        assert steps == len(e) and ret == pytest.approx(e.ret)


@pytest.mark.slow
def test_resume_after_kill(tmp_path):
    cmd = [sys.executable, "-m", "gatosuite", "collect", "--task", "babyai-goto", "--episodes", "30",
           "--root", str(tmp_path), "--chunk-episodes", "3"]
    stage = staging_dir(tmp_path, "babyai-goto")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(stage.glob("chunk-*.npz")) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    staged = len(list(stage.glob("chunk-*.npz")))
    assert 1 <= staged < 10, "the kill must land mid-collection"
    with pytest.raises(RuntimeError, match="interrupted .* rerun with --resume"):
        collect("babyai-goto", 30, tmp_path, progress=False)
    with pytest.raises(ValueError, match="other settings"):
        collect("babyai-goto", 31, tmp_path, resume=True, progress=False)
    r = collect("babyai-goto", 30, tmp_path, resume=True, progress=False)
    assert r.collected_now < 30
    eps = list(minari_store.iter_episodes(tmp_path, "babyai-goto"))
    assert sorted(e.index for e in eps) == list(range(30)) and [e.seed for e in eps] == list(range(30))
    assert not stage.exists()
    env = make_task_env("babyai-goto", expert=True)
    for e in (eps[0], eps[-1]):  # one from before the kill, one from after
        assert run_episode(env, e.seed, "expert")[0] == pytest.approx(e.ret)


def test_corrupt_chunk_names_the_file(tmp_path):
    from gatosuite.datasets.staging import Episode, write_chunk, write_plan

    stage = staging_dir(tmp_path, "babyai-gotoredball")
    write_plan(stage, {"task": "babyai-gotoredball", "episodes": 6, "seed": 0, "expert": "babyai-bot", "noise": 0.0,
                       "labels": "played"})
    ep = Episode(0, 0, {"direction": np.zeros(2, np.int64)}, np.zeros(1, np.int64), np.zeros(1),
                 np.zeros(1, bool), np.zeros(1, bool))
    path = write_chunk(stage, 0, [ep])
    path.write_bytes(path.read_bytes()[:40])  # what a torn write or a bad disk leaves
    with pytest.raises(CorruptDataError, match=r"chunk-000000.npz' is corrupt or truncated.*Delete that file"):
        collect("babyai-gotoredball", 6, tmp_path, resume=True, progress=False)


def test_truncated_dataset_names_the_file_and_the_fix(tmp_path):
    collect("babyai-gotoredball", 2, tmp_path, progress=False)
    h5 = minari_store.dataset_dir(tmp_path, "babyai-gotoredball") / "data" / "main_data.hdf5"
    h5.write_bytes(h5.read_bytes()[: h5.stat().st_size // 2])
    with pytest.raises(CorruptDataError, match=r"expert-v0' is corrupt or truncated.*collect again: gatosuite collect"):
        list(minari_store.iter_episodes(tmp_path, "babyai-gotoredball"))


def test_missing_dataset_says_how_to_collect(tmp_path):
    with pytest.raises(FileNotFoundError, match="gatosuite collect --task cartpole"):
        minari_store.load(tmp_path, "cartpole")


def test_unknown_task_and_non_env_task(tmp_path):
    with pytest.raises(KeyError, match="unknown task 'nope'; known: "):
        collect("nope", 1, tmp_path)
    with pytest.raises(ValueError, match="no environment expert"):
        collect("text-lm", 1, tmp_path)


def test_cache_is_reused_and_rebuilt_on_change(tmp_path, text_model):
    from gatosuite.tokenization.corpus import suite_texts
    from gatosuite.tokenization.text import train_text_model

    collect("babyai-gotoredball", 2, tmp_path, progress=False)
    tok = task_tokenizer("babyai-gotoredball", text_model)
    c1 = open_cache(tmp_path, "babyai-gotoredball", tok)
    mtime = (c1.dir / "ids.npy").stat().st_mtime_ns
    assert (open_cache(tmp_path, "babyai-gotoredball", tok).dir / "ids.npy").stat().st_mtime_ns == mtime
    other = train_text_model(list(suite_texts()), vocab_size=350)
    c2 = open_cache(tmp_path, "babyai-gotoredball", task_tokenizer("babyai-gotoredball", other))
    assert c2.meta["tokenizer_hash"] != c1.meta["tokenizer_hash"]
    collect("babyai-gotoredball", 3, tmp_path, overwrite=True, progress=False)
    c3 = open_cache(tmp_path, "babyai-gotoredball", tok)
    assert len(c3) == 3


@pytest.mark.slow
def test_noise_plays_random_actions_but_labels_every_state_with_the_experts_action(tmp_path):
    """With noise, about that share of the played actions differ from the expert's. The dataset records
    what was played (replaying its actions from its seed reproduces its return) and, at every recorded
    state, the expert's action as the label that training uses. 1 or 2 workers give the same dataset."""
    one = collect("pendulum", 3, tmp_path / "a", noise=0.3, progress=False)
    collect("pendulum", 3, tmp_path / "b", noise=0.3, workers=2, progress=False)
    a = list(minari_store.iter_episodes(tmp_path / "a", "pendulum"))
    b = list(minari_store.iter_episodes(tmp_path / "b", "pendulum"))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.actions, y.actions)
        np.testing.assert_array_equal(x.labels, y.labels)
    env = make_task_env("pendulum", expert=True)
    differ = []
    for e in a:
        assert e.labels.shape == e.actions.shape and e.targets is e.labels
        obs, info = env.reset(seed=e.seed)
        ret = 0.0
        for t, action in enumerate(e.actions):
            np.testing.assert_allclose(e.labels[t], info["expert_action"], rtol=0, atol=1e-6)  # the expert, here
            differ.append(not np.allclose(action, info["expert_action"]))
            obs, r, term, trunc, info = env.step(action)
            ret += r
        assert ret == pytest.approx(e.ret)
    assert 0.2 < np.mean(differ) < 0.4 and one.mean_return < 0  # 600 steps at p = 0.3
    ds = minari_store.load(tmp_path / "a", "pendulum")
    assert ds.storage.metadata.get("algorithm_name").endswith("with 0.3 random-action noise, expert labels")
    # in the token cache, the context shows what was played and the targets are the expert's labels
    from gatosuite.agent.batch import collate
    from gatosuite.datasets.cache import open_cache
    from gatosuite.tokenization.task import task_tokenizer

    tok = task_tokenizer("pendulum", None)
    seq = open_cache(tmp_path / "a", "pendulum", tok).episode(0)
    L, act = tok.spec.tokens_per_timestep, slice(tok.spec.obs_tokens + 1, None)
    bin_width = 4.0 / 1024  # Box [-2, 2]
    played = tok.decode_actions(seq.ids.reshape(-1, L)[:, act])
    np.testing.assert_allclose(played, a[0].actions, atol=bin_width)
    learned = tok.decode_actions(seq.labels.reshape(-1, L)[:, act])
    np.testing.assert_allclose(learned, a[0].labels, atol=bin_width)
    assert np.abs(learned - a[0].actions).max() > 0.5  # the random plays are not what is learned
    batch = collate([seq], tok.vocab)
    targets = batch.targets[batch.target_mask].numpy()  # every target is the expert's label
    np.testing.assert_array_equal(targets, seq.labels.reshape(-1, L)[:, act].reshape(-1))
    with pytest.raises(ValueError, match="pass --overwrite"):
        collect("pendulum", 3, tmp_path / "a", progress=False)  # the same count, but noise-free: not reused


def test_collection_reads_each_staged_chunk_once(tmp_path, monkeypatch):
    """Finishing a collection reads the staged chunks once, not once per episode (which was quadratic:
    1000 BabyAI episodes took 630 s instead of 10 s)."""
    from gatosuite.datasets import staging

    reads = []
    real = staging.read_chunk
    monkeypatch.setattr(staging, "read_chunk", lambda path: reads.append(path) or real(path))
    collect("cartpole", 12, tmp_path, chunk_episodes=2, progress=False)
    assert len(reads) == 6  # 12 episodes in chunks of 2
    assert len(set(reads)) == 6


@pytest.mark.slow
def test_perturbed_starts_spread_the_cart_across_its_rail(tmp_path):
    """inverted-pendulum's perturbed starts put the cart anywhere in +-0.8 (it starts within +-0.01
    otherwise), the same per seed with 1 or 2 workers; the expert still balances from there, the dataset
    says how it was collected, and a dataset collected otherwise is not silently reused."""
    plain = collect("inverted-pendulum", 6, tmp_path / "plain", progress=False)
    r = collect("inverted-pendulum", 6, tmp_path / "a", perturb_start=True, progress=False)
    collect("inverted-pendulum", 6, tmp_path / "b", perturb_start=True, workers=2, progress=False)
    a = list(minari_store.iter_episodes(tmp_path / "a", "inverted-pendulum"))
    b = list(minari_store.iter_episodes(tmp_path / "b", "inverted-pendulum"))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.observations["state"], y.observations["state"])
    start = np.array([e.observations["state"][0, 0] for e in a])
    plain_start = [e.observations["state"][0, 0] for e in minari_store.iter_episodes(tmp_path / "plain",
                                                                                     "inverted-pendulum")]
    assert np.abs(plain_start).max() <= 0.01 and np.abs(start).max() <= 0.81
    assert np.abs(start).max() > 0.3 and len(set(np.sign(start))) == 2
    assert r.mean_return == plain.mean_return == 1000.0  # the LQR expert recovers from every start
    assert np.abs([e.observations["state"][-1, 0] for e in a]).max() < 0.05  # and brings the cart back
    meta = minari_store.load(tmp_path / "a", "inverted-pendulum").storage.metadata
    assert meta["algorithm_name"].endswith("perturbed starts")
    with pytest.raises(ValueError, match="pass --overwrite"):
        collect("inverted-pendulum", 6, tmp_path / "plain", perturb_start=True, progress=False)
    with pytest.raises(ValueError, match="drop --perturb-start.*inverted-pendulum"):
        collect("pendulum", 2, tmp_path / "c", perturb_start=True, progress=False)
