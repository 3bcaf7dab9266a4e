"""The paper's measurements in one import, for researchers pointing the package at a model.

>>> from layerwise.models import load_model
>>> from layerwise import experiments
>>> lm = load_model("tiny:gpt2")
>>> words = experiments.word_task_scores(lm)    # tidy table: setting, task, layer, value, CI

Each name is defined in :mod:`layerwise.measure` (this module only gathers them);
:class:`MeasureOptions` sets sample sizes, seed, cache and bootstrap memo.
"""

from __future__ import annotations

from .measure.common import MeasureOptions
from .measure.cwe import cwe_geometry, cwe_sentence_set, cwe_sentences, cwe_states
from .measure.sentences import (
    published_check,
    sentence_self_similarity,
    sentence_states,
    sts_benchmark_scores,
    sts_pair_cosines,
)
from .measure.words import (
    subtoken_requests,
    task_items,
    word_pair_scores,
    word_states,
    word_task_scores,
    word_tasks,
)


def __getattr__(name: str) -> object:
    # WORD_TASKS: the registry's word tasks at each access (:func:`word_tasks`).
    if name == "WORD_TASKS":
        return word_tasks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MeasureOptions",
    "cwe_geometry",
    "cwe_sentence_set",
    "cwe_sentences",
    "cwe_states",
    "published_check",
    "sentence_self_similarity",
    "sentence_states",
    "sts_benchmark_scores",
    "sts_pair_cosines",
    "subtoken_requests",
    "task_items",
    "word_pair_scores",
    "word_states",
    "word_task_scores",
    "word_tasks",
]
