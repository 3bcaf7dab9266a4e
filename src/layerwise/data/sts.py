"""Sentence-level data: the STS Benchmark test split and the SemEval STS 2012-2016 sentences.

STS Benchmark test: 1,379 pairs, 2,552 unique sentences, read by splitting on tabs only
(chapter 5). SemEval STS 2012-2016: 26,775 pairs, 39,404 unique stripped sentences, the pool
from which contextualized word embeddings are sampled (chapter 3). A file with another number
of records is a :class:`~layerwise.errors.DataError`. Chapter 1 (``notebooks/01_data.ipynb``)
explains the parsing choices; :func:`load_sts_benchmark_quoted` is the authors' read, for the
ablation of chapter 6.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, InputError
from .integrity import (
    REPO_DATA_PATH,
    check_count,
    dataset_dir,
    is_blank,
    malformed_line,
    parse_number,
    read_lines,
    refuse_bom,
    verify_checksums,
    verify_complete,
)
from .registry import DATASETS


@dataclass(frozen=True, slots=True)
class StsPair:
    """A sentence pair of the STS Benchmark test split with its gold similarity (0-5)."""

    genre: str
    file: str
    year: str
    sid: str
    score: float
    sentence1: str
    sentence2: str


_STSB_PATH = DATASETS["stsb"].path
_STSB_COUNT = DATASETS["stsb"].count
_STSB_UNIQUE = 2552
_STSB_LAYOUT = (
    "at least 7 tab-separated fields (genre, file, year, id, score, sentence1, sentence2)"
)


def load_sts_benchmark(
    *, strip: bool = True, data_dir: str | os.PathLike[str] | None = None
) -> list[StsPair]:
    """Load the 1,379 pairs of the STS Benchmark test split.

    Each line is split on tab characters only: sentences contain quote characters, and a
    quote-aware CSV parser would merge lines. Fields after the seventh (source notes on some
    rows) are ignored.

    Args:
        strip: remove whitespace around each sentence (12 sentences have some; the set of
            unique sentences is the same either way).
        data_dir: datasets folder to use instead of the default.

    Raises:
        DataError: the file is missing, corrupted or malformed, or does not hold 1,379 pairs.
    """
    rel = _STSB_PATH
    root = dataset_dir(data_dir)
    pairs: list[StsPair] = []
    for number, line in read_lines(root, rel):
        if is_blank(line):
            continue
        fields = line.split("\t")
        if len(fields) < 7:
            raise malformed_line(rel, number, _STSB_LAYOUT, line)
        genre, file, year, sid, score_text, sentence1, sentence2 = fields[:7]
        score = parse_number(score_text.strip())
        if score is None:
            raise malformed_line(rel, number, "a numeric score in the fifth field", line)
        if not sentence1.strip() or not sentence2.strip():
            raise malformed_line(rel, number, "two non-empty sentences in fields 6 and 7", line)
        if strip:
            sentence1, sentence2 = sentence1.strip(), sentence2.strip()
        pairs.append(
            StsPair(
                genre.strip(), file.strip(), year.strip(), sid.strip(), score, sentence1, sentence2
            )
        )
    check_count(rel, "sentence pairs", len(pairs), _STSB_COUNT)
    unique = {text.strip() for p in pairs for text in (p.sentence1, p.sentence2)}
    check_count(rel, "unique sentences", len(unique), _STSB_UNIQUE)
    return pairs


def sts_benchmark_sentences(pairs: Iterable[StsPair]) -> list[str]:
    """Unique sentences of STS Benchmark pairs, both sides, in first-appearance order.

    The order is sentence1 of the first pair, sentence2 of the first pair, sentence1 of the
    second pair, and so on, skipping sentences already seen (2,552 for the test split).
    """
    seen: dict[str, None] = {}
    for pair in pairs:
        seen.setdefault(pair.sentence1)
        seen.setdefault(pair.sentence2)
    return list(seen)


# ------------------------------------------------------------------ SemEval STS 2012-2016


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence and the file where it first appears (e.g. ``"2012/MSRpar.test.tsv"``)."""

    text: str
    source: str


#: SemEval STS years available.
STS_YEARS: tuple[int, ...] = (2012, 2013, 2014, 2015, 2016)

_SEMEVAL_DIR = "semeval-sts"
_SEMEVAL_LAYOUT = "3 tab-separated fields 'score<TAB>sentence1<TAB>sentence2'"


#: Documented totals for all five years: sentence pairs, and unique sentences with and without
#: stripping (see :func:`load_sts_sentences`).
_SEMEVAL_PAIRS = DATASETS["sts2012-2016"].count
_SEMEVAL_UNIQUE = {True: 39_404, False: 39_443}


def _all_years(years: Iterable[int]) -> bool:
    return not isinstance(years, (int, str)) and set(years) == set(STS_YEARS)


def _semeval_files(root: Path, years: Iterable[int]) -> list[str]:
    """Relative paths (``semeval-sts/<year>/<name>.tsv``) of the SemEval files, sorted."""
    if isinstance(years, (int, str)):
        years = [years]  # type: ignore[list-item]
    chosen: list[int] = []
    for year in years:
        if isinstance(year, bool) or not isinstance(year, int) or year not in STS_YEARS:
            valid = ", ".join(str(y) for y in STS_YEARS)
            raise InputError(f"unknown SemEval STS year {year!r}; valid years are {valid}.")
        if year not in chosen:
            chosen.append(year)
    if not chosen:
        raise InputError("no SemEval STS year given; choose among " + str(STS_YEARS) + ".")
    files: list[str] = []
    for year in chosen:
        folder = root / _SEMEVAL_DIR / str(year)
        rel_folder = f"{_SEMEVAL_DIR}/{year}"
        if not folder.is_dir():
            raise DataError(
                f"{rel_folder}: folder not found at {folder}. Restore it from the project "
                f"repository, e.g. `git checkout -- {REPO_DATA_PATH}/{rel_folder}`."
            )
        names = [p.name for p in folder.glob("*.tsv") if p.is_file()]
        if not names:
            raise DataError(
                f"{rel_folder}: no .tsv files in {folder}. Restore them from the project "
                f"repository, e.g. `git checkout -- {REPO_DATA_PATH}/{rel_folder}`."
            )
        files.extend(f"{rel_folder}/{name}" for name in names)
    return sorted(files)


def _read_semeval(root: Path, years: Iterable[int]) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(source relative to semeval-sts, [(sentence1, sentence2), ...]), ...], unstripped."""
    result: list[tuple[str, list[tuple[str, str]]]] = []
    for rel in _semeval_files(root, years):
        pairs: list[tuple[str, str]] = []
        for number, line in read_lines(root, rel):
            if is_blank(line):
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise malformed_line(rel, number, _SEMEVAL_LAYOUT, line)
            score_text, sentence1, sentence2 = fields
            if score_text.strip() and parse_number(score_text.strip()) is None:
                raise malformed_line(
                    rel, number, "an empty or numeric score in the first field", line
                )
            if not sentence1.strip() or not sentence2.strip():
                raise malformed_line(rel, number, "two non-empty sentences", line)
            pairs.append((sentence1, sentence2))
        result.append((rel[len(_SEMEVAL_DIR) + 1 :], pairs))
    return result


def load_sts_sentences(
    years: Iterable[int] = STS_YEARS,
    *,
    strip: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
) -> list[Sentence]:
    """Unique sentences of the SemEval STS 2012-2016 pairs, in first-appearance order.

    Every ``*.tsv`` file under ``semeval-sts/<year>/`` is read, in sorted path order, and
    each line (``score<TAB>sentence1<TAB>sentence2``; the score may be empty) gives its two
    sentences, left then right. Each unique text is kept once, with the file where it first
    appears.

    Args:
        years: which years to read (any of :data:`STS_YEARS`).
        strip: remove whitespace around each sentence before deduplicating (default). This
            gives 39,404 unique sentences for all five years. With ``strip=False`` the texts are
            kept exactly as in the files and 39,443 are unique: the figure in PROVENANCE.md,
            where 39 sentences are counted twice, with and without trailing spaces.
        data_dir: datasets folder to use instead of the default.

    Raises:
        InputError: an unknown year.
        DataError: a file is missing, corrupted, unlisted in SHA256SUMS, or malformed.
    """
    root = dataset_dir(data_dir)
    years = list(years) if not isinstance(years, (int, str)) else years
    seen: dict[str, str] = {}
    n_pairs = 0
    for source, pairs in _read_semeval(root, years):
        n_pairs += len(pairs)
        for sentence1, sentence2 in pairs:
            for text in (sentence1, sentence2):
                key = text.strip() if strip else text
                if key not in seen:
                    seen[key] = source
    if _all_years(years):
        check_count(_SEMEVAL_DIR, "sentence pairs", n_pairs, _SEMEVAL_PAIRS)
        check_count(_SEMEVAL_DIR, "unique sentences", len(seen), _SEMEVAL_UNIQUE[bool(strip)])
    return [Sentence(text, source) for text, source in seen.items()]


def sts_sentence_summary(
    years: Iterable[int] = STS_YEARS,
    *,
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, int]:
    """Number of sentence pairs in each SemEval STS file, keyed like ``"2012/MSRpar.test.tsv"``.

    The files are in the order :func:`load_sts_sentences` reads them; the values add up to
    26,775 for all five years.
    """
    root = dataset_dir(data_dir)
    years = list(years) if not isinstance(years, (int, str)) else years
    summary = {source: len(pairs) for source, pairs in _read_semeval(root, years)}
    if _all_years(years):
        check_count(_SEMEVAL_DIR, "sentence pairs", sum(summary.values()), _SEMEVAL_PAIRS)
    return summary


def count_sts_pairs(
    years: Iterable[int] = STS_YEARS,
    *,
    data_dir: str | os.PathLike[str] | None = None,
) -> int:
    """Total number of SemEval STS sentence pairs in the given years (26,775 for all)."""
    return sum(sts_sentence_summary(years, data_dir=data_dir).values())


#: Rows the authors' read of the STS-B test file yields (methodology note 3).
_STSB_AUTHORS_COUNT = 1273


def load_sts_benchmark_quoted(*, data_dir: str | os.PathLike[str] | None = None) -> list[StsPair]:
    """The STS-B test file read as the authors' scripts read it: for chapter 6's ablation only.

    The reader is Python's :func:`csv.reader` in its default dialect: comma-delimited, with
    ``"`` as the quote character. Each record's comma-separated fields are joined back
    together with nothing between them (so commas inside sentences are lost), the result is
    split on tabs, and fields 5-7 are the score and the two sentences. A quote that opens a
    field and is not closed on the same line swallows the following lines, so the 1,379 lines
    become 1,273 records (methodology note 3), some of whose second sentences run on into the
    next lines. Sentences are kept exactly as this read gives them (not stripped here).

    Raises:
        DataError: the file is missing or corrupted, or the read does not give 1,273 pairs
            with a numeric score.
    """
    import csv

    rel = _STSB_PATH
    root = dataset_dir(data_dir)
    verify_checksums([rel], data_dir=root)
    verify_complete(root)
    pairs: list[StsPair] = []
    with open(root / rel, encoding="utf-8", newline="") as handle:
        refuse_bom(handle.read(1), rel)
        handle.seek(0)
        for record in csv.reader(handle):
            fields = "".join(record).split("\t")
            score = parse_number(fields[4].strip()) if len(fields) >= 7 else None
            if score is None:
                continue
            genre, file, year, sid = (f.strip() for f in fields[:4])
            pairs.append(StsPair(genre, file, year, sid, score, fields[5], fields[6]))
    check_count(rel, "pairs in the authors' quote-honouring read", len(pairs), _STSB_AUTHORS_COUNT)
    return pairs
