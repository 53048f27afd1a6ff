"""Image captioning and VQA data ('babyai-captions'): rendered BabyAI views paired with captions and
question-answer pairs generated from the grid's true state (what the agent's 7x7 view really holds).

A sample is the view's image tokens (observation, no loss) followed by the text tokens and EOS (loss):
e.g. "a red ball and a grey key", or "what colour is the box? purple".
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections import Counter
from pathlib import Path

import gymnasium as gym
import numpy as np

from gatosuite.envs.canonical import BABYAI_TILE
from gatosuite.tokenization import TextModel, TokenKind, TokenSequence, Vocabulary
from gatosuite.tokenization.corpus import NUMBER_WORDS, PLURALS
from gatosuite.tokenization.images import num_patches, patch_intervals, patchify
from gatosuite.tokenization.tokenizer import encode_documents

from .cache import TokenCache, cache_dir, cached

TASK_ID = "babyai-captions"
OBJECTS = ("ball", "box", "key", "door")
LEVEL = "BabyAI-GoToLocal-v0"


def visible_objects(symbolic_view: np.ndarray) -> list[tuple[str, str]]:
    """(colour, object) of every ball, box, key and door in the agent's symbolic 7x7 view."""
    from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT  # here: importing captions needs no BabyAI

    out = []
    for obj_idx, color_idx, _state in symbolic_view.reshape(-1, 3):
        name = IDX_TO_OBJECT[int(obj_idx)]
        if name in OBJECTS:
            out.append((IDX_TO_COLOR[int(color_idx)], name))
    return out


def texts_for(objects: list[tuple[str, str]], rng: np.random.Generator) -> list[str]:
    """A caption plus QA pairs that are true of `objects`."""
    if not objects:
        return ["nothing but walls"]
    names = sorted({f"a {c} {o}" for c, o in objects})
    out = [" and ".join(names)]
    counts = Counter(o for _, o in objects)
    for o, n in sorted(counts.items()):
        if n == 1:
            colour = next(c for c, oo in objects if oo == o)
            out.append(f"what colour is the {o}? {colour}")
    o = OBJECTS[int(rng.integers(len(OBJECTS)))]
    out.append(f"how many {PLURALS[o]} are there? {NUMBER_WORDS[min(counts.get(o, 0), len(NUMBER_WORDS) - 1)]}")
    return out


def generate_views(n_views: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[list[str]]]:
    """`n_views` agent views from random BabyAI levels: frames (n, 56, 56, 3), the symbolic 7x7x3 views they
    render (minigrid's obs['image'], indexed [x, y]; the agent stands at (3, 6) facing up), and their texts."""
    import minigrid

    gym.register_envs(minigrid)
    env = gym.make(LEVEL)
    rng = np.random.default_rng(seed)
    frames, views, texts = [], [], []
    for i in range(n_views):
        with contextlib.redirect_stdout(io.StringIO()):
            obs, _ = env.reset(seed=seed + i)
        for _ in range(int(rng.integers(0, 4))):  # a few random turns/steps for varied viewpoints
            obs, *_ = env.step(int(rng.integers(0, 3)))
        frames.append(env.unwrapped.get_frame(highlight=False, tile_size=BABYAI_TILE, agent_pov=True))
        views.append(obs["image"])
        texts.append(texts_for(visible_objects(obs["image"]), rng))
    env.close()
    return np.stack(frames), np.stack(views), texts


def generate(n_views: int, seed: int = 0) -> tuple[np.ndarray, list[list[str]]]:
    """`n_views` agent views (n, 56, 56, 3) from random BabyAI levels, each with its texts."""
    frames, _, texts = generate_views(n_views, seed)
    return frames, texts


def encode_samples(text_model: TextModel, frames: np.ndarray, texts: list[list[str]]) -> list[TokenSequence]:
    """One TokenSequence per (frame, text): image patches, then text + EOS as targets."""
    vocab = Vocabulary(text_model.vocab_size)
    h, w = frames.shape[1:3]
    p = num_patches(h, w)
    rows, cols = patch_intervals(h, w)
    patches = patchify(frames)
    out = []
    for i, sample_texts in enumerate(texts):
        for doc in encode_documents(text_model, vocab, sample_texts):
            img = TokenSequence(np.arange(p, dtype=np.int64), np.full(p, TokenKind.IMAGE, np.uint8),
                                np.arange(p, dtype=np.int32), np.zeros(p, np.int32), np.zeros(p, bool),
                                patches[i], rows, cols)
            doc.local_pos = doc.local_pos + p
            out.append(TokenSequence.concatenate([img, doc]))
    return out


def build_caption_cache(root: Path, text_model: TextModel, n_views: int = 2000, seed: int = 0) -> TokenCache:
    """Generate and tokenize the caption/VQA data; reused while the text model and settings match."""
    key = hashlib.sha256(f"{text_model.fingerprint}|{n_views}|{seed}|{LEVEL}".encode()).hexdigest()
    return cached(cache_dir(root, TASK_ID), {"inputs_hash": key},
                  lambda: encode_samples(text_model, *generate(n_views, seed)), {"task": TASK_ID})
