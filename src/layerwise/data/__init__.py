"""Typed loaders for the evaluation data vendored with the package.

The raw files live in ``layerwise/datasets/`` together with ``PROVENANCE.md`` (where each
file comes from, its format and its licence) and ``SHA256SUMS``. Nothing is downloaded at
run time. Before any loader returns, every file listed in ``SHA256SUMS`` must exist and match
its checksum, and each loader checks the number of records it read against the documented
count, so a deleted, modified or truncated file is reported instead of silently changing a
result.

Chapter 1 of the book (``notebooks/01_data.ipynb``) walks through these loaders, the counts
they return and the parsing choices made here:

* STS Benchmark (``sts-benchmark/sts-test.csv``) is split on tab characters only. Its
  sentences contain double quotes, and a CSV parser that honours quotes merges lines (the
  authors' scripts read it with Python's ``csv.reader`` in its default comma dialect and get
  1,273 rows instead of 1,379; :func:`load_sts_benchmark_quoted` reproduces that read).
* SemEval STS 2012-2016 sentences are deduplicated on their text with surrounding whitespace
  removed (``strip=True``, the default): 39,404 unique sentences in 26,775 pairs. The figure of
  39,443 in ``PROVENANCE.md`` counts the raw strings, where 39 sentences appear twice, once
  with and once without trailing spaces; ``load_sts_sentences(strip=False)`` reproduces it.
* Sentences that do not fit a model's context window are removed for every model at once
  with :func:`filter_to_window`, so that all models see the same sentences.

The code is split by what it reads: :mod:`.registry` (which datasets exist, their counts
and labels), :mod:`.register` (a dataset of one's own, added at run time),
:mod:`.integrity` (locating the folder, checksums), :mod:`.words` (word similarity,
ValNorm), :mod:`.sts` (STS Benchmark, SemEval STS), :mod:`.window` (the context-window
filter) and :mod:`.overview`; every public name is
re-exported here, so ``from layerwise import data; data.load_word_pairs(...)`` works.

The folder read is, in order of precedence: the ``data_dir`` argument of a loader, the
module-level ``layerwise.data.integrity.DATA_DIR`` (set it, e.g. with ``monkeypatch``,
to point every loader at a
copy of the data), and the ``datasets`` folder inside the installed package.
"""

from __future__ import annotations

from . import words as _words
from .integrity import (
    SUMS_FILE,
    checksum,
    dataset_checksums,
    dataset_dir,
    verify_checksums,
    verify_complete,
)
from .overview import overview
from .register import register_dataset, registered, unregister_dataset
from .registry import DATASETS, Dataset, PairFormat
from .sts import (
    STS_YEARS,
    Sentence,
    StsPair,
    count_sts_pairs,
    load_sts_benchmark,
    load_sts_benchmark_quoted,
    load_sts_sentences,
    sts_benchmark_sentences,
    sts_sentence_summary,
)
from .window import WindowFilter, filter_to_window
from .words import (
    PLEASANT,
    UNPLEASANT,
    ValenceWord,
    WordPair,
    load_valnorm,
    load_word_pairs,
    word_similarity_tasks,
)


def __getattr__(name: str) -> object:
    # WORD_SIMILARITY_TASKS, WORD_SIMILARITY_DISPLAY_NAMES: read from the registry at each
    # access (see layerwise.data.words), so that a registered dataset is included.
    if name in ("WORD_SIMILARITY_TASKS", "WORD_SIMILARITY_DISPLAY_NAMES"):
        return getattr(_words, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DATASETS",
    "Dataset",
    "PLEASANT",
    "PairFormat",
    "STS_YEARS",
    "SUMS_FILE",
    "UNPLEASANT",
    "WORD_SIMILARITY_DISPLAY_NAMES",
    "WORD_SIMILARITY_TASKS",
    "Sentence",
    "StsPair",
    "ValenceWord",
    "WindowFilter",
    "WordPair",
    "checksum",
    "count_sts_pairs",
    "dataset_checksums",
    "dataset_dir",
    "filter_to_window",
    "load_sts_benchmark",
    "load_sts_benchmark_quoted",
    "load_sts_sentences",
    "load_valnorm",
    "load_word_pairs",
    "overview",
    "register_dataset",
    "registered",
    "sts_benchmark_sentences",
    "sts_sentence_summary",
    "verify_checksums",
    "unregister_dataset",
    "verify_complete",
    "word_similarity_tasks",
]
