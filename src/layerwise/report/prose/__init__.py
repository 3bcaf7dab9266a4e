"""The text each chapter states, built from the tables and objects the chapter already has.

One function per chapter, ``chapterN(...) -> dict[str, str]``, returns every glue name the
chapter's markdown pastes (``{glue:text}``) with its text; the notebook glues them all with
:func:`layerwise.site.display.glue_texts`. The functions format and compare, they never
measure or load a model; the paper's numbers and claim thresholds come from
:mod:`layerwise.data.reference`. One module per chapter, and :mod:`.common` for the phrases
several chapters share.
"""

from __future__ import annotations

from .anisotropy import chapter3, top_shares
from .beyond import chapter7
from .datasets import chapter1
from .discussion import chapter6
from .extraction import chapter2
from .sts import chapter5
from .word_tasks import bos_text_layer, chapter4

__all__ = [
    "bos_text_layer",
    "chapter1",
    "chapter2",
    "chapter3",
    "chapter4",
    "chapter5",
    "chapter6",
    "chapter7",
    "top_shares",
]
