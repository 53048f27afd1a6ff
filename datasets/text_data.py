"""The text task ('text-lm'): language-modelling documents from the offline corpus, tokenized into the
same cache format as episodes (one 'episode' per document)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from gatosuite.tokenization import TextModel, Vocabulary
from gatosuite.tokenization.corpus import default_corpus
from gatosuite.tokenization.tokenizer import encode_documents

from .cache import TokenCache, cache_dir, cached

TASK_ID = "text-lm"


def documents(lines: Iterable[str], lines_per_doc: int = 8) -> list[str]:
    """Group corpus lines into short documents (docstring lines are mostly fragments on their own)."""
    docs, cur = [], []
    for ln in lines:
        cur.append(ln)
        if len(cur) == lines_per_doc:
            docs.append(" ".join(cur))
            cur = []
    if cur:
        docs.append(" ".join(cur))
    return docs


def build_text_cache(root: Path, text_model: TextModel, max_docs: int | None = 20_000,
                     extra_txt: Iterable[str] = ()) -> TokenCache:
    """Tokenize up to `max_docs` corpus documents; reused while the text model and settings match."""
    vocab = Vocabulary(text_model.vocab_size)
    key = hashlib.sha256(f"{text_model.fingerprint}|{max_docs}|{sorted(map(str, extra_txt))}".encode()).hexdigest()
    return cached(cache_dir(root, TASK_ID), {"inputs_hash": key},
                  lambda: encode_documents(text_model, vocab, documents(default_corpus(extra_txt))[:max_docs]),
                  {"task": TASK_ID})
