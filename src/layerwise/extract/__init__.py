"""Extraction: texts -> token ids and read positions (:mod:`.requests`) -> hidden states at
those positions, every layer, in batches (:mod:`.batched`).

Chapter 2 (``notebooks/02_extraction``) explains both.
"""

from .batched import extract
from .requests import SENTENCE_SETTINGS, WORD_SETTINGS, Request
from .states import Extracted

__all__ = ["SENTENCE_SETTINGS", "WORD_SETTINGS", "Extracted", "Request", "extract"]
