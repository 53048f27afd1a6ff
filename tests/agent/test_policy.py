"""GatoPolicy: KV-cached, window-sliding decoding gives the same actions as recomputing the whole
window every step; actions stay in the action space."""

import numpy as np
import pytest
import torch

from gatosuite.agent.batch import collate
from gatosuite.agent.checkpoint import save_checkpoint
from gatosuite.agent.configuration_gato import GatoConfig
from gatosuite.agent.modeling_gato import GatoModel
from gatosuite.agent.policy import GatoPolicy
from gatosuite.envs import make_task_env
from gatosuite.tokenization import TokenSequence, Vocabulary


@pytest.fixture
def checkpoint(tmp_path, text_model):
    torch.manual_seed(0)
    cfg = GatoConfig(vocab_size=Vocabulary(text_model.vocab_size).size, n_layer=2, n_head=2, n_embd=32, ffn=64,
                     context=60, max_local_positions=16, patch_channels=8)
    return save_checkpoint(tmp_path / "ckpt", GatoModel(cfg), text_model)


def _reference_actions(policy, observations):
    """Greedy constrained decoding by full recomputation of the window, no cache."""
    model, tok, L = policy.model, policy.tok, policy.L
    keep = model.cfg.context // L - 1
    steps, out = [], []
    for t, obs in enumerate(observations):
        prefix = tok.encode_prefix({k: v[None] for k, v in obs.items()}, first_timestep=t)
        if (len(steps) + 1) * L > model.cfg.context:
            steps = steps[-keep:]
        chosen, seqs = [], []
        for j, (lo, hi) in enumerate(policy.ranges):
            ctx = TokenSequence.concatenate(steps + [prefix] + seqs)
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


@pytest.mark.parametrize("task_id", ["pendulum", "cartpole"])
def test_cached_policy_matches_full_recompute_across_slides(checkpoint, task_id):
    env = make_task_env(task_id)
    policy = GatoPolicy(checkpoint, task_id)
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
        GatoPolicy(checkpoint, "cartpole").act({"state": np.zeros((1, 4), np.float32)})
