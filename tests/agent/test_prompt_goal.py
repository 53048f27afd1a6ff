"""A prompted policy follows its prompt's goal: trained on a toy goal family where the action is set by a goal
that only the demonstration shows, the same observation gets different actions under two goals' prompts.
And per-episode prompts in a batched rollout: each env gets its own episode's demonstrations."""

import numpy as np
import pytest
from gymnasium import spaces

from gatosuite.agent.policy import DecoderPolicy
from gatosuite.agent.train import TrainArgs, train
from gatosuite.datasets.cache import write_cache
from gatosuite.tokenization import Tokenizer, Vocabulary

GOAL_ACTIONS = {0: np.array([0.7, -0.7], np.float32), 1: np.array([-0.7, 0.7], np.float32)}


def _toy_goal_family(tmp_path, text_model):
    """reacher-goal's shapes (6 observed values, 2 actions): noise observations, and a constant action
    per goal, so nothing but the prompt's actions says which goal an episode has."""
    tok = Tokenizer.from_spaces(spaces.Box(-np.inf, np.inf, (6,), np.float32),
                                spaces.Box(-1, 1, (2,), np.float32), vocab=Vocabulary(text_model.vocab_size))
    rng = np.random.default_rng(0)
    variants = [i % 2 for i in range(24)]
    seqs = [tok.encode_episode(rng.normal(size=(12, 6)).astype(np.float32), np.tile(GOAL_ACTIONS[v], (12, 1)))
            for v in variants]
    cache = write_cache(tmp_path / "toy", seqs, {"task": "reacher-goal", "variants": variants,
                                                 "tokens_per_timestep": tok.spec.tokens_per_timestep})
    return cache, tok


@pytest.mark.slow
def test_actions_follow_the_prompts_goal(tmp_path, text_model):
    cache, tok = _toy_goal_family(tmp_path, text_model)
    L = tok.spec.tokens_per_timestep
    args = TrainArgs(tasks="reacher-goal", out=tmp_path / "run", window=10 * L, batch_size=16, steps=200,
                     warmup=20, lr=2e-3, val_fraction=0.0, val_every=0, log_every=50, precision="fp32",
                     prompt_prob=1.0, prompt_mode="end", recipe="gato-2022")
    # gato-2022: the prompt's actions enter as inputs, as in Gato. The default recipe masks every action
    # input, so only the prompt's (noise) observations would reach the model; it passed too (once),
    # presumably by recalling the training episode those observations come from: not what this test is about.
    train(args, text_model, {"reacher-goal": cache}, progress=False)
    obs = {"state": np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32)}
    ckpt = tmp_path / "run" / "checkpoint"
    for goal, demo in ((0, 0), (1, 1)):  # episodes 0 and 1 have goals 0 and 1
        prompt = [cache.episode(demo + 2 * m).slice(8 * L, 12 * L) for m in range(1)]
        policy = DecoderPolicy(ckpt, "reacher-goal", prompt=prompt)
        policy.reset(3)
        act = policy.act(obs)
        assert np.all(np.sign(act) == np.sign(GOAL_ACTIONS[goal])), (goal, act)
    # per-episode prompts: envs 0 and 2 play goal 1, env 1 goal 0, in one batch
    policy = DecoderPolicy(ckpt, "reacher-goal",
                        prompt_of_seed=lambda seed: [cache.episode(seed % 2).slice(8 * L, 12 * L)])
    policy.set_episode_seeds([1, 0, 3])
    policy.reset(3)
    act = policy.act(obs)
    assert np.all(np.sign(act) == np.sign(np.stack([GOAL_ACTIONS[1], GOAL_ACTIONS[0], GOAL_ACTIONS[1]]))), act
