"""Measure a contrastive image-text checkpoint (the `limoe` family) on held-out BabyAI views.

- Routing per modality: the share of each modality's tokens that each MoE layer's router sends to each
  expert, and how many experts a modality uses (>= 2% of its tokens), on held-out frames and captions.
- Zero-shot classification: name the object in the cell in front of the agent (a ball, box or key of one
  of six colours: 18 classes) by the nearest of the text prompts "a <colour> <object>". Chance is 1/18;
  the majority class's share is reported beside it, as the stronger trivial baseline.
- Retrieval recall@1 over held-out (frame, caption) pairs: image -> text is a hit when the nearest caption
  is the frame's own caption text, text -> image when the nearest frame has the query as its caption;
  duplicate captions ("a red ball") make chance higher than 1/N, so chance is computed and reported.

Held-out views come from BabyAI seeds far past the caption data's (training uses seeds 0 .. n_views-1).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from minigrid.core.constants import COLOR_NAMES, IDX_TO_COLOR, IDX_TO_OBJECT

from gatosuite.agent.checkpoint import load_model
from gatosuite.agent.pairs import Pairs
from gatosuite.datasets.captions import generate_views
from gatosuite.errors import ConfigError
from gatosuite.tokenization import TextModel, Vocabulary
from gatosuite.tokenization.images import normalize_patches, patch_intervals, patchify

HELDOUT_SEED = 1_000_000
"""First BabyAI seed of the held-out views."""
CLASS_OBJECTS = ("ball", "box", "key")


def front_object(view: np.ndarray) -> tuple[str, str] | None:
    """(colour, object) in the cell in front of the agent of a symbolic 7x7x3 view, if a ball, box or key."""
    obj, colour, _ = view[3, 5]
    name = IDX_TO_OBJECT[int(obj)]
    return (IDX_TO_COLOR[int(colour)], name) if name in CLASS_OBJECTS else None


def image_pairs(frames: np.ndarray, device: torch.device | str = "cpu") -> Pairs:
    """Pairs holding frames (n, H, W, 3) and an empty text each (for encode_images)."""
    n, h, w = frames.shape[:3]
    patches = torch.from_numpy(normalize_patches(patchify(frames)))  # (n, P, 3, 16, 16)
    rows, cols = (torch.from_numpy(a).float()[None].expand(n, -1, -1) for a in patch_intervals(h, w))
    p = patches.shape[1]
    keys = torch.arange(n)
    ones = torch.ones(n, p, dtype=torch.bool)
    return Pairs(patches.to(device), rows.to(device), cols.to(device), ones.to(device),
                 torch.zeros(n, 1, dtype=torch.long, device=device), ones[:, :1].to(device), keys.to(device),
                 keys.to(device))


def text_ids(text_model: TextModel, texts: list[str], max_tokens: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, L) ids (text then EOS, as the caption data has them) and their mask."""
    eos = Vocabulary(text_model.vocab_size).eos
    seqs = [(ids + [eos])[:max_tokens] for ids in text_model.encode(texts)]
    length = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), length, dtype=torch.long)
    mask = torch.zeros(len(seqs), length, dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, :len(s)], mask[i, :len(s)] = torch.tensor(s), True
    return ids, mask


@torch.no_grad()
def _embed(model: Any, frames: np.ndarray, texts: list[str], text_model: TextModel, batch: int
           ) -> tuple[torch.Tensor, torch.Tensor, dict[str, np.ndarray]]:
    """Image and text embeddings of aligned frames and texts, encoded together batch by batch as in training,
    and the routing load per modality: {modality: (layers, E) share of its tokens per expert}."""
    imgs, txts, counts = [], [], {m: None for m in model.MODALITIES}
    for lo in range(0, len(frames), batch):
        pairs = image_pairs(frames[lo:lo + batch])
        pairs.text, pairs.text_mask = text_ids(text_model, texts[lo:lo + batch], model.cfg.max_tokens)
        img, txt, routing = model.encode(pairs)
        imgs.append(img)
        txts.append(txt)
        for m, name in enumerate(model.MODALITIES):
            per_layer = np.stack([np.bincount(aux["router_probs"][mod == m].argmax(-1).numpy(),
                                              minlength=model.cfg.n_experts) for aux, mod in routing])  # (layers, E)
            counts[name] = per_layer if counts[name] is None else counts[name] + per_layer
    load = {name: c / c.sum(1, keepdims=True) for name, c in counts.items()}
    return torch.cat(imgs), torch.cat(txts), load


def evaluate_contrastive(checkpoint: str | Path, n_views: int = 600, n_class_views: int = 4000,
                         seed: int = HELDOUT_SEED, batch: int = 200) -> dict[str, Any]:
    """Routing per modality and retrieval recall@1 on `n_views` held-out (frame, caption) pairs, and zero-shot
    accuracy on those of `n_class_views` further views with a ball, box or key in front of the agent (about
    6% of views)."""
    model, _ = load_model(Path(checkpoint))
    if not hasattr(model, "encode_texts"):
        raise ConfigError(f"'{checkpoint}' holds a {type(model).__name__}, not an image-text encoder; "
                          "train one with `gatosuite train --model limoe`")
    model.eval()
    text_model = TextModel.load(checkpoint)
    frames, views, texts = generate_views(n_views, seed)
    captions = [t[0] for t in texts]
    img, txt, load = _embed(model, frames, captions, text_model, batch)
    out: dict[str, Any] = {"views": n_views, "seed": seed, "routing": {}}
    for name, share in load.items():
        used = (share >= model.USED_SHARE).sum(1)  # (layers,)
        out["routing"][name] = {"load": share.round(4).tolist(), "experts_used": used.tolist(),
                                "experts_used_mean": float(used.mean())}
    out["retrieval"] = _retrieval(img, txt, captions)
    frames, views, _ = generate_views(n_class_views, seed + n_views)
    keep = [i for i, v in enumerate(views) if front_object(v) is not None]
    out["zero_shot"] = _zero_shot(model, frames[keep], views[keep], text_model, batch)
    return out


def _retrieval(img: torch.Tensor, txt: torch.Tensor, captions: list[str]) -> dict[str, float]:
    sim = img @ txt.T  # (N, N)
    cap = np.array(captions, dtype=object)
    i2t = float(np.mean(cap[sim.argmax(1).numpy()] == cap))
    t2i = float(np.mean(cap[sim.argmax(0).numpy()] == cap))
    counts = Counter(captions)
    chance = float(np.mean([counts[c] / len(captions) for c in captions]))
    return {"i2t_recall@1": i2t, "t2i_recall@1": t2i, "chance": chance, "pairs": len(captions),
            "distinct_captions": len(counts)}


@torch.no_grad()
def _zero_shot(model: Any, frames: np.ndarray, views: np.ndarray, text_model: TextModel, batch: int
               ) -> dict[str, Any]:
    """Accuracy of naming the object in front by the nearest class prompt; also how often the named object
    is one the agent sees anywhere in its view (captions name every visible object, not the one in front)."""
    from gatosuite.datasets.captions import visible_objects

    if len(frames) == 0:
        return {"frames": 0}
    classes = [(c, o) for c in COLOR_NAMES for o in CLASS_OBJECTS]
    ids, mask = text_ids(text_model, [f"a {c} {o}" for c, o in classes], model.cfg.max_tokens)
    prompts = model.encode_texts(ids, mask)  # (K, E)
    img = torch.cat([model.encode_images(image_pairs(frames[lo:lo + batch])) for lo in range(0, len(frames), batch)])
    pred = (img @ prompts.T).argmax(1).numpy()
    truth = np.array([classes.index(front_object(v)) for v in views])
    visible = [set(visible_objects(v)) for v in views]
    majority = Counter(truth.tolist()).most_common(1)[0][1] / len(truth)
    return {"frames": len(frames), "classes": len(classes), "accuracy": float(np.mean(pred == truth)),
            "visible_accuracy": float(np.mean([classes[p] in vis for p, vis in zip(pred, visible)])),
            "chance": 1.0 / len(classes), "majority": float(majority),
            "object_accuracy": float(np.mean([classes[p][1] == classes[t][1] for p, t in zip(pred, truth)])),
            "colour_accuracy": float(np.mean([classes[p][0] == classes[t][0] for p, t in zip(pred, truth)]))}
