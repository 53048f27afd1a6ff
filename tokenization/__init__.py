"""Gato's tokenizer: observations and actions of any supported Gymnasium space -> one token sequence.

Entry points: :class:`Tokenizer` (built with ``Tokenizer.from_spaces``), :class:`TimestepSpec`,
:class:`Vocabulary`, and :func:`default_text_model` for the SentencePiece model.
"""

from .obs_stats import ObsStats
from .sequence import TokenSequence
from .spec import FieldSpec, TimestepSpec, TokenKind, UnsupportedSpaceError
from .text import TextModel, default_text_model, train_text_model
from .tokenizer import Tokenizer
from .validate import TokenizationError
from .vocab import Vocabulary

__all__ = [
    "FieldSpec", "ObsStats", "TextModel", "TimestepSpec", "TokenKind", "TokenSequence", "TokenizationError",
    "Tokenizer", "UnsupportedSpaceError", "Vocabulary", "default_text_model", "train_text_model",
]
