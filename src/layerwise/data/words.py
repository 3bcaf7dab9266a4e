"""Word-level data: the word-similarity benchmarks and the ValNorm lexicon.

The word-similarity sets (RG65, WordSim-353, SimLex-999, SimVerb-3500 and any registered
at run time) give word pairs with a human rating; the Bellezza lexicon gives words with a
valence, and the SC-WEAT attribute words are 25 pleasant and 25 unpleasant words. Each
file must hold its registry entry's ``count`` of records (:data:`.registry.DATASETS`);
another number is a :class:`~layerwise.errors.DataError`. Chapter 1 (``notebooks/01_data.ipynb``)
shows them; chapter 4 evaluates on them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import DataError, InputError
from .integrity import (
    check_count,
    dataset_dir,
    is_blank,
    malformed_line,
    parse_number,
    read_lines,
    read_user_lines,
    restore_hint,
)
from .registry import DATASETS, of_kind


@dataclass(frozen=True, slots=True)
class WordPair:
    """A pair of words with its human similarity (or relatedness) rating."""

    word1: str
    word2: str
    score: float


def word_similarity_tasks() -> tuple[str, ...]:
    """Keys of the word-similarity tasks, in registry order (the paper's, then any dataset
    registered at run time): read from :data:`.registry.DATASETS` at each call."""
    return of_kind("word_similarity")


def __getattr__(name: str) -> object:
    # WORD_SIMILARITY_TASKS and WORD_SIMILARITY_DISPLAY_NAMES, computed at each access so
    # that they follow the registry (a module-level tuple would miss a registered dataset).
    if name == "WORD_SIMILARITY_TASKS":
        return word_similarity_tasks()
    if name == "WORD_SIMILARITY_DISPLAY_NAMES":
        return {k: DATASETS[k].label for k in word_similarity_tasks()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _task_key(name: str) -> str:
    tasks = word_similarity_tasks()
    if isinstance(name, str):
        wanted = name.strip().lower()
        for key in tasks:
            if wanted in (key, DATASETS[key].label.lower()):
                return key
    valid = ", ".join(repr(k) for k in tasks)
    raise InputError(f"unknown word-similarity task {name!r}; valid names are {valid}.")


def load_word_pairs(name: str, *, data_dir: str | os.PathLike[str] | None = None) -> list[WordPair]:
    """Load a word-similarity benchmark.

    Args:
        name: a key of :func:`word_similarity_tasks` (``"rg65"``, ``"ws353"``...); the
            labels (``"SL999"``...) are accepted too.
        data_dir: datasets folder to use instead of the default (a dataset registered at
            run time is read from its own absolute path).

    Returns:
        The pairs in file order, as many as the registry entry's ``count``.

    Raises:
        InputError: unknown task name.
        DataError: the file is missing, corrupted or malformed, or holds the wrong number of
            pairs.
    """
    dataset = DATASETS[_task_key(name)]
    spec = dataset.format
    if dataset.sha256:  # registered at run time: its own digest, not SHA256SUMS
        lines = read_user_lines(dataset.path, dataset.sha256)
    else:
        lines = read_lines(dataset_dir(data_dir), dataset.path)
    pairs: list[WordPair] = []
    for number, line in lines:
        if is_blank(line):
            continue
        fields = [field.strip() for field in line.split(spec.separator)]
        if len(fields) != spec.n_fields:
            raise malformed_line(dataset.path, number, spec.layout, line)
        score = parse_number(fields[spec.score_field])
        if score is None or not fields[0] or not fields[1]:
            raise malformed_line(
                dataset.path, number, f"{spec.layout} with two words and a numeric score", line
            )
        pairs.append(WordPair(fields[0], fields[1], score))
    check_count(dataset.path, "word pairs", len(pairs), dataset.count)
    return pairs


# ------------------------------------------------------------------ ValNorm


@dataclass(frozen=True, slots=True)
class ValenceWord:
    """A word with its human valence rating (Bellezza et al. 1986, ``combined_pleasantness``)."""

    word: str
    valence: float


_VALNORM_PATH = DATASETS["valnorm"].path
_VALNORM_COUNT = DATASETS["valnorm"].count
_VALNORM_WORD_COLUMN = "word"
_VALNORM_VALENCE_COLUMN = "combined_pleasantness"

#: Pleasant attribute words of the SC-WEAT (Caliskan et al. 2017), in the published order.
PLEASANT: tuple[str, ...] = (
    "caress", "freedom", "health", "love", "peace", "cheer", "friend", "heaven", "loyal",
    "pleasure", "diamond", "gentle", "honest", "lucky", "rainbow", "diploma", "gift", "honor",
    "miracle", "sunrise", "family", "happy", "laughter", "paradise", "vacation",
)  # fmt: skip

#: Unpleasant attribute words of the SC-WEAT (Caliskan et al. 2017), in the published order.
UNPLEASANT: tuple[str, ...] = (
    "abuse", "crash", "filth", "murder", "sickness", "accident", "death", "grief", "poison",
    "stink", "assault", "disaster", "hatred", "pollute", "tragedy", "divorce", "jail", "poverty",
    "ugly", "cancer", "kill", "rotten", "vomit", "agony", "prison",
)  # fmt: skip


def load_valnorm(*, data_dir: str | os.PathLike[str] | None = None) -> list[ValenceWord]:
    """Load the Bellezza words (the registry's ``valnorm`` count) with their
    ``combined_pleasantness`` valence.

    The columns are found by their header names, not their positions.

    Raises:
        DataError: the file is missing, corrupted or malformed, lacks the ``word`` or
            ``combined_pleasantness`` column, or does not hold the registry's count.
    """
    rel = _VALNORM_PATH
    root = dataset_dir(data_dir)
    rows = [(number, line) for number, line in read_lines(root, rel) if not is_blank(line)]
    if not rows:
        raise DataError(f"{rel}: the file is empty. {restore_hint(rel)}")
    header_number, header_line = rows[0]
    header = [name.strip() for name in header_line.split(",")]
    if _VALNORM_WORD_COLUMN not in header or _VALNORM_VALENCE_COLUMN not in header:
        raise malformed_line(
            rel,
            header_number,
            f"a header row with columns {_VALNORM_WORD_COLUMN!r} and {_VALNORM_VALENCE_COLUMN!r}",
            header_line,
        )
    word_at = header.index(_VALNORM_WORD_COLUMN)
    valence_at = header.index(_VALNORM_VALENCE_COLUMN)
    words: list[ValenceWord] = []
    for number, line in rows[1:]:
        fields = [field.strip() for field in line.split(",")]
        if len(fields) != len(header):
            raise malformed_line(rel, number, f"{len(header)} comma-separated fields", line)
        valence = parse_number(fields[valence_at])
        if valence is None or not fields[word_at]:
            raise malformed_line(
                rel, number, f"a word and a numeric {_VALNORM_VALENCE_COLUMN}", line
            )
        words.append(ValenceWord(fields[word_at], valence))
    check_count(rel, "words", len(words), _VALNORM_COUNT)
    return words
