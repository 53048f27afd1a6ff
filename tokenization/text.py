"""Text <-> SentencePiece ids, and training the SentencePiece model offline.

The model is trained with byte fallback, so any UTF-8 string encodes (no <unk> for unseen characters).
SentencePiece's own BOS/EOS/PAD are disabled: those are gatosuite special tokens outside the text range
(see vocab.py). The model is stored as its serialized proto, and saved beside every checkpoint.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import sentencepiece as spm

from gatosuite.errors import ConfigError, CorruptFileError, DataNotFoundError

from .corpus import corpus_key, default_corpus

MODEL_FILENAME = "tokenizer.model"
MIN_VOCAB = 300
"""Byte fallback reserves 256 ids and <unk> one; below this there is no room for real pieces."""


class TextModel:
    """A trained SentencePiece model: encode text to ids in [0, vocab_size) and back."""

    def __init__(self, model_proto: bytes) -> None:
        self._proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor(model_proto=self._proto)

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    @property
    def fingerprint(self) -> str:
        """sha256 of the model bytes: checkpoints record it to refuse a mismatched tokenizer."""
        return hashlib.sha256(self._proto).hexdigest()

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Batch-encode strings to id lists (SentencePiece runs the batch in C++)."""
        return self._sp.encode(list(texts), out_type=int)

    def decode(self, ids: Iterable[int]) -> str:
        return self._sp.decode([int(i) for i in ids])

    def piece(self, token_id: int) -> str:
        return self._sp.id_to_piece(int(token_id))

    def save(self, directory: str | os.PathLike) -> Path:
        """Write `tokenizer.model` into `directory` atomically; returns its path."""
        path = Path(directory) / MODEL_FILENAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(self._proto)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> TextModel:
        """Load from a `.model` file or a directory holding `tokenizer.model`."""
        p = Path(path)
        if p.is_dir():
            p = p / MODEL_FILENAME
        if not p.is_file():
            raise DataNotFoundError(
                f"no SentencePiece model at '{p}'; train one with `gatosuite text-model --out DIR`"
            )
        try:
            return cls(p.read_bytes())
        except RuntimeError as e:
            raise CorruptFileError(f"'{p}' is not a valid SentencePiece model ({e}); retrain it") from e


def train_text_model(lines: Iterable[str], vocab_size: int, *, max_sentences: int = 200_000,
                     seed: int = 0, num_threads: int | None = None) -> TextModel:
    """Train a unigram SentencePiece model on `lines`, in memory."""
    if vocab_size < MIN_VOCAB:
        raise ConfigError(f"text vocab_size {vocab_size} is too small; use at least {MIN_VOCAB}")
    spm.set_random_generator_seed(seed)
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_writer=buf,
        vocab_size=vocab_size,
        model_type="unigram",
        byte_fallback=True,
        character_coverage=0.9995,
        unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
        input_sentence_size=max_sentences,
        shuffle_input_sentence=True,
        hard_vocab_limit=False,  # a small corpus may not support the full size: fewer pieces, no crash
        num_threads=num_threads or min(4, os.cpu_count() or 1),
        minloglevel=2,
    )
    return TextModel(buf.getvalue())


def cache_dir() -> Path:
    """Where trained text models are cached: $GATOSUITE_CACHE, else ~/.cache/gatosuite."""
    return Path(os.environ.get("GATOSUITE_CACHE", Path.home() / ".cache" / "gatosuite"))


def default_text_model(vocab_size: int = 4096, extra_txt: Sequence[str | os.PathLike] = (),
                       include_stdlib: bool = True) -> TextModel:
    """The SentencePiece model trained on the default corpus, cached by corpus fingerprint + size."""
    key = f"spm-{vocab_size}-{corpus_key(extra_txt, include_stdlib)}"
    path = cache_dir() / "text" / f"{key}.model"
    if path.is_file():
        return TextModel.load(path)
    model = train_text_model(default_corpus(extra_txt, include_stdlib), vocab_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(model._proto)
    os.replace(tmp, path)
    return model
