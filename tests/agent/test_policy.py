"""DecoderPolicy: KV-cached, window-sliding decoding gives the same actions as recomputing the whole
window every step; actions stay in the action space."""

import numpy as np
import pytest
import torch

from gatosuite.agent.batch import collate
from gatosuite.agent.checkpoint import CheckpointMismatchError, save_checkpoint
from gatosuite.agent.models.gato.configuration_gato import GatoConfig
from gatosuite.agent.models.gato.modeling_gato import GatoModel
from gatosuite.agent.policy import DecoderPolicy
from gatosuite.envs import make_task_env
from gatosuite.tokenization import TokenSequence, Vocabulary


@pytest.fixture
def checkpoint(tmp_path, text_model):
    torch.manual_seed(0)
    cfg = GatoConfig(vocab_size=Vocabulary(text_model.vocab_size).size, n_layer=2, n_head=2, n_embd=32, ffn=64,
                     context=60, max_local_positions=16, patch_channels=8)
    return save_checkpoint(tmp_path / "ckpt", GatoModel(cfg), text_model)


def _reference_actions(policy, observations, prompt=()):
    """Greedy constrained decoding by full recomputation of the window, no cache: the prompt stays
    first, and when a timestep would not fit, the older half of the episode's timesteps is dropped."""
    model, tok, L = policy.model, policy.tok, policy.L
    prompt = [p.slice(i, i + L) for p in prompt for i in range(0, len(p), L)]
    cap = model.cfg.context // L
    steps, out = [], []
    for t, obs in enumerate(observations):
        prefix = tok.encode_prefix({k: v[None] for k, v in obs.items()}, first_timestep=t)
        if len(prompt) + len(steps) + 1 > cap:
            keep = (cap - len(prompt)) // 2
            steps = steps[len(steps) - keep:]
        chosen, seqs = [], []
        for j, (lo, hi) in enumerate(policy.ranges):
            ctx = TokenSequence.concatenate(prompt + steps + [prefix] + seqs)
            with torch.no_grad():
                h = model.hidden(collate([ctx], tok.vocab))
            logits = h[0, -1] @ model.tok.weight.T
            tokid = int(lo + torch.argmax(logits[lo:hi]))
            chosen.append(tokid)
            s = TokenSequence.empty()
            s.ids, s.kinds = np.array([tokid]), np.array([policy.action_kinds[j]], np.uint8)
            s.local_pos, s.timestep, s.loss_mask = np.array([-1]), np.array([t]), np.array([True])
            seqs.append(s)
        steps.append(TokenSequence.concatenate([prefix] + seqs))
        out.append(chosen)
    return tok.decode_actions(np.array(out))


def _observations(task_id, n, seed=0):
    env = make_task_env(task_id)
    obs, _ = env.reset(seed=seed)
    out = []
    for _ in range(n):
        out.append(obs)
        obs, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            obs, _ = env.reset(seed=seed + len(out))
    return out


def _batched(obs_list):
    return {k: np.stack([np.asarray(o[k]) for o in obs_list]) for k in obs_list[0]}


@pytest.mark.parametrize("task_id", ["pendulum", "cartpole"])
def test_cached_policy_matches_full_recompute_across_slides(checkpoint, task_id):
    env = make_task_env(task_id)
    policy = DecoderPolicy(checkpoint, task_id)
    policy.reset(num_envs=1)
    obs, _ = env.reset(seed=0)
    observations, actions = [], []
    for _ in range(25):  # context 60 holds 12 (pendulum, 5 tokens) or 10 (cartpole, 6) timesteps: it slides
        observations.append(obs)
        a = policy.act({k: np.asarray(v)[None] for k, v in obs.items()})[0]
        assert env.action_space.contains(a)
        actions.append(a)
        obs, _, term, trunc, _ = env.step(a)
        if term or trunc:  # keep the policy's context going: only the decoding equivalence matters here
            obs, _ = env.reset(seed=len(actions))
    np.testing.assert_array_equal(np.array(actions), _reference_actions(policy, observations))


def test_act_requires_reset(checkpoint):
    with pytest.raises(RuntimeError, match="reset"):
        DecoderPolicy(checkpoint, "cartpole").act({"state": np.zeros((1, 4), np.float32)})


def test_prompt_is_pinned_through_slides(checkpoint):
    policy = DecoderPolicy(checkpoint, "cartpole")
    demo_obs = _observations("cartpole", 3, seed=5)
    prompt = [policy.tok.encode_episode(_batched(demo_obs), np.array([0, 1, 1]))]
    policy.reset(num_envs=1, prompt=prompt)
    observations = _observations("cartpole", 20)
    actions = [policy.act({k: np.asarray(v)[None] for k, v in o.items()})[0] for o in observations]
    np.testing.assert_array_equal(np.array(actions), _reference_actions(policy, observations, prompt))


def test_batched_envs_act_as_if_each_ran_alone(checkpoint):
    """Four envs in one batched cache, reset at different steps (so their rows differ in length and
    slide at different times, envs 0 and 3 together, rebuilt in one pass), choose exactly what each would
    alone."""
    streams = [_observations("cartpole", 24, seed=s) for s in range(4)]
    resets = {1: 7, 2: 13}  # env 1 starts a new episode at step 7, env 2 at step 13
    batched = DecoderPolicy(checkpoint, "cartpole")
    batched.reset(num_envs=4)
    got = []
    for t in range(24):
        mask = np.array([resets.get(k) == t for k in range(4)])
        if mask.any():
            batched.reset_envs(mask)
        got.append(batched.act(_batched([streams[k][t] for k in range(4)])))
    got = np.array(got)  # (T, 4)
    for k in range(4):
        alone = DecoderPolicy(checkpoint, "cartpole")
        alone.reset(num_envs=1)
        want = []
        for t in range(24):
            if resets.get(k) == t:
                alone.reset_envs(np.array([True]))
            want.append(alone.act({key: np.asarray(v)[None] for key, v in streams[k][t].items()})[0])
        np.testing.assert_array_equal(got[:, k], np.array(want), err_msg=f"env {k}")


def test_prompt_that_fills_the_context_is_refused(checkpoint):
    policy = DecoderPolicy(checkpoint, "cartpole")
    obs = _observations("cartpole", 10)
    with pytest.raises(ValueError, match="leaves no room"):
        policy.reset(prompt=[policy.tok.encode_episode(_batched(obs), np.zeros(10, np.int64))])


def test_task_needing_modalities_the_checkpoint_never_trained_on_is_refused(tmp_path, text_model):
    cfg = GatoConfig(vocab_size=Vocabulary(text_model.vocab_size).size, n_layer=1, n_head=2, n_embd=32, ffn=64,
                     context=240, max_local_positions=64, patch_channels=8)
    ckpt = save_checkpoint(tmp_path / "c", GatoModel(cfg), text_model,
                           {"tasks": ["cartpole"], "modalities": ["action_discrete", "continuous"]})
    DecoderPolicy(ckpt, "cartpole")  # the modalities it was trained on: fine
    with pytest.raises(CheckpointMismatchError, match=r"needs .*image.*never saw in training.*cartpole"):
        DecoderPolicy(ckpt, "babyai-gotoredball")


def test_mean_decoding_picks_the_bin_nearest_the_expectation(checkpoint):
    """'mean' decoding of a continuous field lands between two equal modes, where argmax picks one."""
    policy = DecoderPolicy(checkpoint, "pendulum", precision="fp32")
    logits = torch.full((2, 1024), -50.0)
    logits[:, 100] = logits[:, 300] = 10.0
    logits[1, 300] = 10.5  # a slightly taller mode at 300: the mean moves towards it
    policy.decoding = "argmax"
    assert policy._pick(logits, continuous=True).tolist() == [100, 300]
    policy.decoding = "mean"
    picked = policy._pick(logits, continuous=True).tolist()
    assert picked[0] == 200 and 200 < picked[1] < 300
    assert policy._pick(logits, continuous=False).tolist() == [100, 300]  # discrete fields keep the mode


def test_mode_mean_decoding_stays_on_one_mode_and_is_smooth_near_it(checkpoint):
    """'mode-mean' averages only near the mode: two far modes (a bang-bang expert's -1 and +1) give the
    taller one, where 'mean' gives the middle, a do-nothing action; one broad mode gives its mean."""
    from gatosuite.agent.policy import MODE_WINDOW

    policy = DecoderPolicy(checkpoint, "pendulum", precision="fp32")
    logits = torch.full((2, 1024), -50.0)
    logits[0, 10] = logits[0, 11] = 10.0
    logits[0, 1000] = 9.9  # a second mode, slightly lower, far away
    logits[1, 500:521] = 5.0  # one broad mode: bins 500..520 equally likely
    logits[1, 500] = 5.01
    policy.decoding = "mean"
    assert 100 < policy._pick(logits, continuous=True)[0] < 900  # between the modes, on neither
    policy.decoding = "mode-mean"
    picked = policy._pick(logits, continuous=True).tolist()
    assert picked[0] in (10, 11) and picked[1] == 510
    assert MODE_WINDOW < 1000 - 11
