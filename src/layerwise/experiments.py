"""Deprecated: the measurements now import from :mod:`layerwise` itself.

``from layerwise import experiments; experiments.word_task_scores(lm)`` keeps working for
this release and warns (a ``DeprecationWarning`` naming the new spelling, raised where a
name is used, so notebooks and scripts show it); write ``import layerwise as lw;
lw.word_task_scores(lm)``. The names are the ones this module offered.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

#: Name -> the module (under ``layerwise``) that defines it.
_MOVED: dict[str, str] = {
    "WORD_TASKS": "measure.words",
    "MeasureOptions": "measure.common",
    "cwe_geometry": "measure.cwe",
    "cwe_sentence_set": "measure.cwe",
    "cwe_sentences": "measure.cwe",
    "cwe_states": "measure.cwe",
    "published_check": "measure.sentences",
    "sentence_self_similarity": "measure.sentences",
    "sentence_states": "measure.sentences",
    "sts_benchmark_scores": "measure.sentences",
    "sts_pair_cosines": "measure.sentences",
    "subtoken_requests": "measure.words",
    "task_items": "measure.words",
    "word_pair_scores": "measure.words",
    "word_states": "measure.words",
    "word_task_scores": "measure.words",
    "word_tasks": "measure.words",
}

__all__ = sorted(_MOVED)


def __getattr__(name: str) -> Any:
    module = _MOVED.get(name)
    if module is None:
        raise AttributeError(f"module 'layerwise.experiments' has no attribute {name!r}")
    public = name in importlib.import_module("layerwise").__all__
    new = f"layerwise.{name}" if public else f"layerwise.{module}.{name}"
    warnings.warn(
        f"layerwise.experiments.{name} is deprecated and goes in the next release; use {new}",
        DeprecationWarning,
        stacklevel=2,
    )
    return getattr(importlib.import_module(f"layerwise.{module}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *_MOVED})
