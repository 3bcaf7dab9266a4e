"""The text chapter 1 (``notebooks/01_data``) states: file and record counts and what the
77-token window keeps."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from ...data import filter_to_window, sts_benchmark_sentences, word_similarity_tasks
from ...data.registry import DATASETS, of_kind
from .common import count

if TYPE_CHECKING:
    from ...data import Sentence, StsPair, WindowFilter


def files_texts(checksums: Mapping[str, str], stsb: Sequence[StsPair]) -> dict[str, str]:
    """How many vendored files were verified (``n_files``), the STS Benchmark test set's
    pairs and unique sentences (``n_stsb_pairs``, ``n_stsb_sentences``), and the word-level
    counts of the dataset registry (``word_counts``: "65, 353, 999 and 3,500 word pairs,
    399 valence words")."""
    pairs = [count(DATASETS[k].count) for k in word_similarity_tasks()]
    listed = ", ".join(pairs[:-1]) + f" and {pairs[-1]}" if len(pairs) > 1 else "".join(pairs)
    valence = [count(DATASETS[k].count) for k in of_kind("valence")]
    return {
        "word_counts": f"{listed} word pairs, {' and '.join(valence)} valence words",
        "n_files": str(len(checksums)),
        "n_stsb_pairs": count(len(stsb)),
        "n_stsb_sentences": count(len(sts_benchmark_sentences(stsb))),
    }


def window_texts(
    per_file: pd.Series,
    sentences: Sequence[Sentence],
    counters: Mapping[str, tuple[Callable[[str], int], int]],
    window: WindowFilter,
) -> dict[str, str]:
    """STS 2012-2016's pairs and sentences (``n_sts_pairs``, ``n_sts_sentences``) and what
    the context window keeps: CLIP's window alone (``n_kept_clip``, ``n_dropped_clip``)
    and every model of the run (``n_kept_run``, ``window_summary``)."""
    clip_only = filter_to_window(sentences, dict(list(counters.items())[:1]))
    return {
        "n_sts_pairs": count(per_file.sum()),
        "n_sts_sentences": count(len(sentences)),
        "n_kept_clip": count(len(clip_only.kept)),
        "n_dropped_clip": count(len(clip_only.dropped)),
        "n_kept_run": count(len(window.kept)),
        "window_summary": window.summary(),
    }


def chapter1(
    *,
    checksums: Mapping[str, str],
    stsb: Sequence[StsPair],
    per_file: pd.Series,
    sentences: Sequence[Sentence],
    counters: Mapping[str, tuple[Callable[[str], int], int]],
    window: WindowFilter,
) -> dict[str, str]:
    """Every text chapter 1 states, by name (its section functions together).

    Args:
        checksums: :func:`~layerwise.data.dataset_checksums` (every vendored file verified).
        stsb: the STS Benchmark test pairs (:func:`~layerwise.data.load_sts_benchmark`).
        per_file: pairs per SemEval STS file, indexed by file
            (:func:`~layerwise.data.sts_sentence_summary` as a series).
        sentences: the unique STS 2012-2016 sentences
            (:func:`~layerwise.data.load_sts_sentences`).
        counters: the window counters of
            :func:`~layerwise.measure.cwe.window_counters`, CLIP's exact tokenizer first.
        window: those sentences filtered with every counter
            (:func:`~layerwise.data.filter_to_window`).

    Returns:
        ``n_files``; ``n_stsb_pairs``, ``n_stsb_sentences``; ``n_sts_pairs``,
        ``n_sts_sentences``; ``n_kept_clip``, ``n_dropped_clip`` (CLIP's window alone),
        ``n_kept_run`` and ``window_summary`` (every model of the run).
    """
    return files_texts(checksums, stsb) | window_texts(per_file, sentences, counters, window)
