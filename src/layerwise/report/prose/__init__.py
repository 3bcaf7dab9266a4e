"""The text each chapter states, built from the tables and objects the chapter already has.

One module per chapter. Its section functions (``figure1_texts(geo)``, ...) each return the
texts of one section, by name; the chapter adds them to its :class:`Prose`, ``text``, in a
hidden cell before the markdown that states them (``{eval}`text.n_pairs```), and
``chapterN(...)`` returns all of them at once. The functions format and compare, they never
measure or load a model; the paper's numbers and claim thresholds come from
:mod:`layerwise.data.reference`. One module per chapter, and :mod:`.common` for the phrases
several chapters share.
"""

from __future__ import annotations

from . import anisotropy, beyond, datasets, discussion, extraction, sts, word_tasks
from .anisotropy import chapter3, top_shares
from .beyond import chapter7
from .common import Phrase, Prose
from .datasets import chapter1
from .discussion import chapter6
from .extraction import chapter2
from .sts import chapter5
from .word_tasks import bos_text_layer, chapter4

__all__ = [
    "Phrase",
    "Prose",
    "anisotropy",
    "beyond",
    "bos_text_layer",
    "chapter1",
    "chapter2",
    "chapter3",
    "chapter4",
    "chapter5",
    "chapter6",
    "chapter7",
    "datasets",
    "discussion",
    "extraction",
    "sts",
    "top_shares",
    "word_tasks",
]
