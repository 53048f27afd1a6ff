"""Few-shot prompts are cut from demonstrations where the model's training cut them."""

import numpy as np
from gymnasium import spaces

from gatosuite.evaluation.prompts import prompt_for, trained_prompt_mode
from gatosuite.tokenization import Tokenizer

OBS = spaces.Dict({"state": spaces.Box(-np.inf, np.inf, (3,), np.float32)})
ACT = spaces.Box(-1.0, 1.0, (2,), np.float32)


def _demo(tok, t, seed):
    rng = np.random.default_rng(seed)
    return tok.encode_episode({"state": rng.normal(size=(t, 3)).astype(np.float32)},
                              rng.uniform(-1, 1, (t, 2)).astype(np.float32))


def test_end_prompts_are_a_demonstrations_last_timesteps_and_whole_prompts_its_first(text_model):
    tok = Tokenizer.from_spaces(OBS, ACT, text_model=text_model)
    L = tok.spec.tokens_per_timestep
    demos = [_demo(tok, 10, 0), _demo(tok, 10, 1)]
    end, = prompt_for(demos, 1, L, steps=8)
    whole, = prompt_for(demos, 1, L, steps=8, mode="whole")
    assert len(end) == len(whole) == 4 * L  # half of an 8-timestep context
    np.testing.assert_array_equal(end.ids, demos[0].ids[6 * L:])
    np.testing.assert_array_equal(whole.ids, demos[0].ids[:4 * L])
    two = prompt_for(demos, 2, L, steps=8, mode="whole")  # k demonstrations share the half
    assert [len(p) for p in two] == [2 * L, 2 * L]
    np.testing.assert_array_equal(two[1].ids, demos[1].ids[:2 * L])
    assert prompt_for(demos, 3, L, steps=8) is None  # more demonstrations than given


def test_the_prompt_mode_follows_the_checkpoints_training():
    assert trained_prompt_mode({"train_args": {"prompt_mode": "whole"}}) == "whole"
    assert trained_prompt_mode({"train_args": {"prompt_mode": "gato"}}) == "end"
    assert trained_prompt_mode({}) == "end"
