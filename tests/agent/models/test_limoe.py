"""LIMoE: its pairs come out of the shared TokenBatch, its entropy losses match a hand computation and
train the router, batch-priority routing keeps the surest tokens, it learns to match frames with texts,
trains through the shared trainer and checkpoints, and refuses to act."""

import math

import numpy as np
import pytest
import torch

from gatosuite.agent.batch import collate_rows
from gatosuite.agent.families import get_family
from gatosuite.agent.models.limoe import LIMoE, extract_pairs
from gatosuite.datasets.captions import encode_samples
from gatosuite.tokenization import Vocabulary
from gatosuite.tokenization.tokenizer import encode_documents

COLOURS = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "yellow": (255, 255, 0)}


def _frames(names):
    """Solid 56x56 frames of the named colours, with a little per-frame noise so no two are identical."""
    rng = np.random.default_rng(0)
    out = np.stack([np.broadcast_to(np.array(COLOURS[n], np.int16), (56, 56, 3)) for n in names])
    return np.clip(out + rng.integers(-8, 9, out.shape), 0, 255).astype(np.uint8)


def _model(text_model, **kw):
    torch.manual_seed(0)
    family = get_family("limoe")
    return family.model(family.build("nano", Vocabulary(text_model.vocab_size).size, context=256, **kw))


def test_pairs_come_from_caption_samples_and_keep_duplicates_apart(text_model):
    vocab = Vocabulary(text_model.vocab_size)
    samples = encode_samples(text_model, _frames(["red", "blue"]),
                             [["a red ball", "what colour is the ball? red"], ["a red ball"]])
    doc = encode_documents(text_model, vocab, ["the quick brown fox"])[0]  # text only: no pair
    batch = collate_rows([[samples[0], doc, samples[1]], [samples[2]]], vocab)
    pairs = extract_pairs(batch, max_tokens=64)
    assert len(pairs) == 3
    assert pairs.image_key.tolist() == [0, 0, 1]  # one frame with two texts, then another frame
    assert pairs.text_key.tolist() == [0, 1, 0]  # "a red ball" twice
    assert pairs.image_mask.sum(1).tolist() == [16, 16, 16]
    first = text_model.encode(["a red ball"])[0] + [vocab.eos]
    assert pairs.text[0, :len(first)].tolist() == first and int(pairs.text_mask[0].sum()) == len(first)
    torch.testing.assert_close(pairs.patches[2], batch.patches[batch.patch_slot >= batch.ids.shape[1]])
    assert pairs.positives().tolist() == [[True, True, True], [True, True, False], [True, False, True]]


def test_pairs_from_a_babyai_timestep_are_frame_and_mission(text_model):
    from gatosuite.tokenization.task import task_tokenizer

    tok = task_tokenizer("babyai-gotoredball", text_model)
    rng = np.random.default_rng(0)
    obs = {"image": rng.integers(0, 255, (3, 56, 56, 3), dtype=np.uint8),
           "mission": np.array(["go to the red ball"] * 3), "direction": np.array([0, 1, 2])}
    seq = tok.encode_episode(obs, np.array([0, 1, 2]))
    pairs = extract_pairs(collate_rows([[seq]], tok.vocab), max_tokens=64)
    assert len(pairs) == 3 and pairs.text_key.tolist() == [0, 0, 0] and pairs.image_key.tolist() == [0, 1, 2]
    mission = text_model.encode(["go to the red ball"])[0]
    assert pairs.text[0, :len(mission)].tolist() == mission


def test_entropy_losses_by_hand(text_model):
    model = _model(text_model, n_experts=2, global_experts=2.0, w_local=0.3, w_global=0.7)
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.5, 0.5], [0.2, 0.8]])  # two image tokens, two text tokens
    modality = torch.tensor([0, 0, 1, 1])
    info = model._routing_info([({"aux_loss": torch.tensor(0.25), "router_probs": probs, "dropped_frac": 0.0},
                                 modality)])

    def h(p):
        return -sum(x * math.log(x) for x in p)

    local_img, global_img = h([0.9, 0.1]), h([0.9, 0.1])
    local_txt, global_txt = (h([0.5, 0.5]) + h([0.2, 0.8])) / 2, h([0.35, 0.65])
    tau = math.log(2)
    expected = 0.25 + 0.3 * (local_img + local_txt) + 0.7 * (max(0, tau - global_img) + max(0, tau - global_txt))
    assert float(info["aux_loss"]) == pytest.approx(expected, rel=1e-5)
    assert info["limoe/local_entropy/text"] == pytest.approx(local_txt, rel=1e-5)
    assert info["limoe/global_entropy/image"] == pytest.approx(global_img, rel=1e-5)
    assert info["limoe/experts_used/image"] == 1 and info["limoe/experts_used/text"] == 2
    assert info["limoe/load/text/0"] == 0.5 and info["limoe/load/image/0"] == 1.0


def test_entropy_losses_train_the_router(text_model):
    model = _model(text_model, switch_alpha=0.0)
    vocab = Vocabulary(text_model.vocab_size)
    samples = encode_samples(text_model, _frames(["red", "blue", "green"]), [["a red ball"], ["a blue key"],
                                                                             ["a green box"]])
    _, _, info = model(extract_pairs(collate_rows([samples], vocab), model.cfg.max_tokens))
    info["aux_loss"].backward()  # the entropy losses alone (the Switch loss is off)
    routers = [blk.moe.w_gate.grad for blk in model.blocks if blk.moe is not None]
    assert routers and all(g is not None and g.abs().sum() > 0 for g in routers)


@pytest.mark.slow
def test_contrastive_training_matches_frames_and_texts(text_model):
    model = _model(text_model)
    vocab = Vocabulary(text_model.vocab_size)
    names = list(COLOURS)
    samples = encode_samples(text_model, _frames(names), [[f"a {n} ball"] for n in names])
    batch = collate_rows([samples], vocab)
    opt = torch.optim.AdamW(model.param_groups(0.0), lr=3e-4)
    first = None
    for _ in range(60):
        logits, loss, info = model(extract_pairs(batch, model.cfg.max_tokens))
        first = first if first is not None else float(loss.detach())
        opt.zero_grad()
        (loss + info["aux_loss"]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        logits, loss, info = model(extract_pairs(batch, model.cfg.max_tokens))
    assert first == pytest.approx(math.log(4), abs=0.2)  # chance at the start: 4 pairs
    assert float(loss) < 0.2 and info["i2t_top1"] == 1.0 and info["t2i_top1"] == 1.0
    assert logits.argmax(1).tolist() == [0, 1, 2, 3]


def test_limoe_trains_through_the_trainer_checkpoints_and_cannot_act(text_model, tmp_path):
    from gatosuite.agent.checkpoint import load_model
    from gatosuite.agent.factory import make_policy
    from gatosuite.agent.train import TrainArgs, train
    from gatosuite.datasets.captions import build_caption_cache
    from gatosuite.errors import ConfigError

    caches = {"babyai-captions": build_caption_cache(tmp_path, text_model, n_views=30)}
    args = TrainArgs(tasks="babyai-captions", root=tmp_path, out=tmp_path / "run", model="limoe", window=120,
                     batch_size=4, steps=3, warmup=1, log_every=1, val_every=0, precision="fp32")
    summary = train(args, text_model, caches, progress=False)
    assert summary["step"] == 3 and summary["n_pairs"] > 4 and "contrastive_loss" in summary
    assert "limoe/experts_used/text" in summary and summary["aux_loss"] > 0
    model, meta = load_model(tmp_path / "run" / "checkpoint")
    assert isinstance(model, LIMoE) and meta["architecture"] == "limoe"
    with pytest.raises(ConfigError, match="cannot act"):
        make_policy(tmp_path / "run" / "checkpoint", "babyai-gotoredball")
