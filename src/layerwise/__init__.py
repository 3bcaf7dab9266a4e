"""Layer-by-layer geometry and semantics of language-model embeddings (Wolfe & Caliskan 2022).

The public API is this one namespace; everything under the subpackages is internal and
may change between releases.

>>> import layerwise as lw
>>> lm = lw.load_model("tiny:gpt2")                   # any hub id, folder, package: or tiny:
>>> s = lw.MeasureOptions(n_cwe=1_000, n_resamples=200)
>>> words = lw.word_task_scores(lm, s=s)              # tidy table: setting, task, layer, rho, CI
>>> sts = lw.sts_benchmark_scores(lm, s=s)

Models: :func:`load_model`, :class:`LoadedModel`, :class:`ModelSpec` (chapter 2).
Options: :class:`MeasureOptions` (sample sizes, seed, cache), :class:`Cache`.
Measurements, each a tidy ``pandas.DataFrame`` with one row per layer:
:func:`cwe_sentences`, :func:`cwe_states`, :func:`cwe_geometry` (chapter 3);
:func:`word_task_scores`, :func:`word_pair_scores`, :func:`word_tasks` (chapter 4; a set of
one's own joins through :func:`register_dataset`, :func:`registered`,
:func:`unregister_dataset`);
:func:`sts_benchmark_scores`, :func:`sentence_self_similarity` (chapter 5);
:func:`deviation_table` (chapter 6); :func:`compare_tables` (chapter 7, any number of
models). Tables: :func:`table1`, :func:`select`. Errors: :class:`LayerwiseError` and its
subclasses. The names are imported on first use (PEP 562), so ``import layerwise`` is
cheap and imports no torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> the module (under ``layerwise``) that defines it.
_EXPORTS: dict[str, str] = {
    # models (chapter 2)
    "load_model": "models.loading",
    "LoadedModel": "models.spec",
    "ModelSpec": "models.spec",
    # options and the cache
    "MeasureOptions": "measure.common",
    "Cache": "store.cache",
    # chapter 3: contextual word embeddings
    "cwe_sentences": "measure.cwe",
    "cwe_states": "measure.cwe",
    "cwe_geometry": "measure.cwe",
    # chapter 4: word tasks
    "word_tasks": "measure.words",
    "word_task_scores": "measure.words",
    "word_pair_scores": "measure.words",
    "word_states": "measure.words",
    # chapter 5: sentences
    "sts_benchmark_scores": "measure.sentences",
    "sentence_self_similarity": "measure.sentences",
    "sentence_states": "measure.sentences",
    # chapter 6: the authors' choices measured both ways
    "deviation_table": "measure.ablations",
    # chapter 7: any number of models
    "compare_tables": "measure.multi",
    # datasets: the registry, and a word-similarity set of one's own
    "Dataset": "data.registry",
    "PairFormat": "data.registry",
    "register_dataset": "data.register",
    "registered": "data.register",
    "unregister_dataset": "data.register",
    # tables
    "table1": "report.table1",
    "select": "tidy",
    # errors
    "LayerwiseError": "errors",
    "InputError": "errors",
    "DataError": "errors",
    "ModelLoadError": "errors",
    "ProbeError": "errors",
    "CacheError": "errors",
    "OutputError": "errors",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'layerwise' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
