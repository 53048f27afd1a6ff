import numpy as np
from minigrid.core.constants import COLOR_TO_IDX, OBJECT_TO_IDX

from gatosuite.datasets.captions import encode_samples, generate, texts_for, visible_objects
from gatosuite.tokenization import TokenKind


def _view(*objs):
    v = np.zeros((7, 7, 3), np.uint8)
    v[..., 0] = OBJECT_TO_IDX["empty"]
    for i, (color, name) in enumerate(objs):
        v[i, 0] = (OBJECT_TO_IDX[name], COLOR_TO_IDX[color], 0)
    v[6, 6] = (OBJECT_TO_IDX["wall"], COLOR_TO_IDX["grey"], 0)
    return v


def test_texts_are_true_of_the_grid():
    objs = visible_objects(_view(("red", "ball"), ("grey", "key"), ("blue", "ball")))
    assert sorted(objs) == [("blue", "ball"), ("grey", "key"), ("red", "ball")]  # the wall is not an object
    texts = texts_for(objs, np.random.default_rng(0))
    assert texts[0] == "a blue ball and a grey key and a red ball"
    assert "what colour is the key? grey" in texts
    assert not any(t.startswith("what colour is the ball") for t in texts)  # two balls: ambiguous, not asked
    assert texts_for([], np.random.default_rng(0)) == ["nothing but walls"]


def test_samples_are_image_then_text_targets(text_model):
    frames, texts = generate(3, seed=1)
    assert frames.shape == (3, 56, 56, 3)
    seqs = encode_samples(text_model, frames, texts)
    assert len(seqs) == sum(len(t) for t in texts)
    s = seqs[0]
    assert (s.kinds[:16] == TokenKind.IMAGE).all() and not s.loss_mask[:16].any()
    assert (s.kinds[16:] == TokenKind.TEXT).all() and s.loss_mask[16:].all()
    assert text_model.decode(s.ids[16:-1]) == texts[0][0]
