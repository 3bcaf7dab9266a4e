"""Typed loaders for the evaluation data vendored with the package.

The raw files live in ``layerwise/datasets/`` together with ``PROVENANCE.md`` (where each
file comes from, its format and its licence) and ``SHA256SUMS``. Nothing is downloaded at
run time. Every loader checks the SHA-256 checksum of each file it reads before parsing it,
so a modified or truncated file is reported instead of silently changing a result.

Chapter 1 of the book (``notebooks/01_data.ipynb``) walks through these loaders, the counts
they return and the parsing choices made here:

* STS Benchmark (``sts-benchmark/sts-test.csv``) is split on tab characters only. Its
  sentences contain double quotes, and a CSV parser that honours quotes merges lines (the
  authors' scripts read 1,273 rows instead of 1,379).
* SemEval STS 2012-2016 sentences are deduplicated on their text with surrounding whitespace
  removed (``strip=True``, the default): 39,404 unique sentences in 26,775 pairs. The figure of
  39,443 in ``PROVENANCE.md`` counts the raw strings, where 39 sentences appear twice, once
  with and once without trailing spaces; ``load_sts_sentences(strip=False)`` reproduces it.
* Sentences that do not fit a model's context window are removed for every model at once
  with :func:`filter_to_window`, so that all models see the same sentences.

The folder read is, in order of precedence: the ``data_dir`` argument of a loader, the
module-level :data:`DATA_DIR` (set it, e.g. with ``monkeypatch``, to point every loader at a
copy of the data), and the ``datasets`` folder inside the installed package.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Generic, TypeVar

from .errors import DataError, InputError

__all__ = [
    "DATA_DIR",
    "PLEASANT",
    "STS_YEARS",
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
    "load_sts_sentences",
    "load_valnorm",
    "load_word_pairs",
    "sts_benchmark_sentences",
    "sts_sentence_summary",
    "verify_checksums",
]

T = TypeVar("T")

#: Folder the loaders read when no ``data_dir`` argument is given; ``None`` means the
#: ``datasets`` folder shipped inside the package. Read at call time, so it can be patched.
DATA_DIR: Path | str | None = None

SUMS_FILE = "SHA256SUMS"
_REPO_DATA_PATH = "src/layerwise/datasets"

# ---------------------------------------------------------------------------------------------
# Locating the data and checking checksums
# ---------------------------------------------------------------------------------------------


def dataset_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the folder holding the vendored datasets.

    Args:
        data_dir: an explicit folder; if ``None``, :data:`DATA_DIR` is used, and if that is
            ``None`` too, the ``datasets`` folder inside the installed ``layerwise`` package.

    Returns:
        The folder as an absolute :class:`~pathlib.Path` (it is not checked to exist).
    """
    if data_dir is not None:
        return Path(data_dir).absolute()
    if DATA_DIR is not None:
        return Path(DATA_DIR).absolute()
    try:
        from importlib.resources import files

        resource = files("layerwise") / "datasets"
        if isinstance(resource, Path):
            return resource.absolute()
    except (ImportError, ModuleNotFoundError, TypeError, AttributeError):
        pass
    return (Path(__file__).parent / "datasets").absolute()


def _restore_hint(rel: str) -> str:
    return (
        f"Restore it from the project repository, e.g. `git checkout -- {_REPO_DATA_PATH}/{rel}`"
        " (or reinstall the package); the vendored data must not be edited."
    )


# Memo of computed digests: (absolute path, mtime_ns, size, inode) -> sha256 hex digest.
# A file modified less than _RACY_NS ago is not memoized: file-system timestamps are coarse,
# so a second change within the same tick could otherwise leave a stale digest in the memo.
_RACY_NS = 2_000_000_000
_CHECKSUM_CACHE: dict[tuple[str, int, int, int], str] = {}


def checksum(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 hex digest of a file.

    The digest is memoized per process, keyed by the absolute path, modification time, size
    and inode, so a file is hashed again only when it changes (files modified in the last
    two seconds are always hashed, since timestamps are too coarse to tell quick edits apart).

    Raises:
        DataError: the file does not exist or cannot be read.
    """
    full = Path(path).absolute()
    try:
        st = full.stat()
    except OSError as exc:
        raise DataError(f"cannot read {full}: {exc.strerror or exc}.") from exc
    if not full.is_file():
        raise DataError(f"{full} is not a regular file.")
    key = (str(full), st.st_mtime_ns, st.st_size, st.st_ino)
    cached = _CHECKSUM_CACHE.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    try:
        with full.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise DataError(f"cannot read {full}: {exc.strerror or exc}.") from exc
    value = digest.hexdigest()
    if time.time_ns() - st.st_mtime_ns > _RACY_NS:
        _CHECKSUM_CACHE[key] = value
    return value


def _normalize_rel(path: str | os.PathLike[str], root: Path) -> str:
    """Turn a user-given path into the ``a/b.txt`` form used as a key in SHA256SUMS."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(root)
        except ValueError:
            raise InputError(
                f"{path} is not inside the datasets folder {root}; give a path relative to it."
            ) from None
    rel = PurePosixPath(p.as_posix())
    parts = [part for part in rel.parts if part not in ("", ".")]
    if not parts or ".." in parts:
        raise InputError(f"{str(path)!r} is not a file path inside the datasets folder.")
    return "/".join(parts)


def _read_sums(root: Path) -> dict[str, str]:
    """Parse ``SHA256SUMS`` of a datasets folder into {relative path: digest}."""
    sums_path = root / SUMS_FILE
    if not sums_path.is_file():
        raise DataError(
            f"checksum list {SUMS_FILE} not found at {sums_path}. {_restore_hint(SUMS_FILE)}"
        )
    try:
        text = sums_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {sums_path}: {exc}. {_restore_hint(SUMS_FILE)}") from exc
    sums: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        digest, sep, name = line.partition("  ")
        if not sep:  # sha256sum's binary-mode marker: "<digest> *<path>"
            digest, sep, name = line.partition(" *")
        digest = digest.strip().lower()
        if (
            not sep
            or len(digest) != 64
            or any(c not in "0123456789abcdef" for c in digest)
            or not name.strip()
        ):
            raise DataError(
                f"{SUMS_FILE}, line {number}: expected '<sha256>  ./<path>', got "
                f"{_show(line)}. {_restore_hint(SUMS_FILE)}"
            )
        sums[_normalize_rel(name.strip(), root)] = digest
    return sums


def verify_checksums(
    paths: Iterable[str] | None = None,
    *,
    data_dir: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """Check data files against ``SHA256SUMS``.

    Args:
        paths: files to check, relative to the datasets folder (``"valnorm/Bellezza_Lexicon.csv"``;
            a leading ``./`` is accepted). ``None`` checks every file listed in ``SHA256SUMS``.
        data_dir: datasets folder to use instead of the default (see :func:`dataset_dir`).

    Returns:
        {relative path: sha256 hex digest} for the files checked, in the order checked.

    Raises:
        DataError: a file is not listed in ``SHA256SUMS``, is missing, or its checksum differs
            from the listed one. The message names the file and how to restore it.
    """
    root = dataset_dir(data_dir)
    sums = _read_sums(root)
    if paths is None:
        targets = list(sums)
    elif isinstance(paths, (str, os.PathLike)):
        targets = [_normalize_rel(paths, root)]
    else:
        targets = [_normalize_rel(p, root) for p in paths]
    result: dict[str, str] = {}
    for rel in targets:
        if rel not in sums:
            raise DataError(
                f"{rel}: not listed in {root / SUMS_FILE}, so its integrity cannot be checked. "
                "Every data file must have a checksum; restore the datasets folder from the "
                f"project repository (e.g. `git checkout -- {_REPO_DATA_PATH}`)."
            )
        full = root / rel
        if not full.is_file():
            raise DataError(f"{rel}: data file not found at {full}. {_restore_hint(rel)}")
        actual = checksum(full)
        expected = sums[rel]
        if actual != expected:
            raise DataError(
                f"{rel}: checksum mismatch at {full}: expected sha256 {expected}, got {actual}. "
                f"The file was modified or corrupted. {_restore_hint(rel)}"
            )
        result[rel] = actual
    return result


def dataset_checksums(*, data_dir: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Return {relative path: sha256} for every listed data file, after verifying them all.

    Meant for provenance records saved next to results.

    Raises:
        DataError: as :func:`verify_checksums`.
    """
    return verify_checksums(None, data_dir=data_dir)


# ---------------------------------------------------------------------------------------------
# Reading and parsing helpers
# ---------------------------------------------------------------------------------------------


def _show(line: str, limit: int = 80) -> str:
    """repr of the first ``limit`` characters of a line, with ``...`` after it if cut."""
    if len(line) > limit:
        return repr(line[:limit]) + "..."
    return repr(line)


def _malformed(rel: str, number: int, expected: str, line: str) -> DataError:
    return DataError(
        f"{rel}, line {number}: expected {expected}, got {_show(line)}. {_restore_hint(rel)}"
    )


def _read_lines(root: Path, rel: str) -> list[tuple[int, str]]:
    """Verify a file's checksum, then return its (1-based line number, line) pairs.

    Lines are split on ``\\n`` only (a trailing ``\\r`` is removed); the empty string after
    a final newline is not a line.
    """
    verify_checksums([rel], data_dir=root)
    full = root / rel
    try:
        text = full.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{rel}: not valid UTF-8 ({exc}). {_restore_hint(rel)}") from exc
    except OSError as exc:
        raise DataError(f"cannot read {full}: {exc}. {_restore_hint(rel)}") from exc
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(number, line.rstrip("\r")) for number, line in enumerate(lines, start=1)]


def _is_blank(line: str) -> bool:
    return line.strip(" ") == ""


def _number(text: str) -> float | None:
    """Parse a finite float, or return None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _check_count(rel: str, what: str, found: int, expected: int) -> None:
    if found != expected:
        raise DataError(
            f"{rel}: expected {expected:,} {what}, found {found:,}. {_restore_hint(rel)}"
        )


# ---------------------------------------------------------------------------------------------
# Word similarity
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WordPair:
    """A pair of words with its human similarity (or relatedness) rating."""

    word1: str
    word2: str
    score: float


#: Word-similarity tasks in the order the paper reports them.
WORD_SIMILARITY_TASKS: tuple[str, ...] = ("rg65", "ws353", "simlex999", "simverb3500")

#: Names used for the tasks in tables and figures.
WORD_SIMILARITY_DISPLAY_NAMES: dict[str, str] = {
    "rg65": "RG65",
    "ws353": "WS353",
    "simlex999": "SL999",
    "simverb3500": "SV3500",
}


@dataclass(frozen=True, slots=True)
class _PairFormat:
    path: str
    separator: str
    n_fields: int
    score_field: int
    count: int
    layout: str


_WORD_PAIR_FORMATS: dict[str, _PairFormat] = {
    "rg65": _PairFormat("word-similarity/rg65.csv", ";", 3, 2, 65, "'word1;word2;score'"),
    "ws353": _PairFormat("word-similarity/wordsim353.csv", ";", 3, 2, 353, "'word1;word2;score'"),
    "simlex999": _PairFormat(
        "word-similarity/simlex999.csv", ";", 3, 2, 999, "'word1;word2;score'"
    ),
    "simverb3500": _PairFormat(
        "word-similarity/SimVerb-3500.txt",
        "\t",
        5,
        3,
        3500,
        "5 tab-separated fields 'word1 word2 POS score relation'",
    ),
}


def _task_key(name: str) -> str:
    if isinstance(name, str):
        wanted = name.strip().lower()
        for key in WORD_SIMILARITY_TASKS:
            if wanted in (key, WORD_SIMILARITY_DISPLAY_NAMES[key].lower()):
                return key
    valid = ", ".join(repr(k) for k in WORD_SIMILARITY_TASKS)
    raise InputError(f"unknown word-similarity task {name!r}; valid names are {valid}.")


def load_word_pairs(name: str, *, data_dir: str | os.PathLike[str] | None = None) -> list[WordPair]:
    """Load a word-similarity benchmark.

    Args:
        name: one of :data:`WORD_SIMILARITY_TASKS` (``"rg65"``, ``"ws353"``, ``"simlex999"``,
            ``"simverb3500"``); the display names (``"SL999"``...) are accepted too.
        data_dir: datasets folder to use instead of the default.

    Returns:
        The pairs in file order: 65, 353, 999 or 3,500 of them.

    Raises:
        InputError: unknown task name.
        DataError: the file is missing, corrupted or malformed, or holds the wrong number of
            pairs.
    """
    spec = _WORD_PAIR_FORMATS[_task_key(name)]
    root = dataset_dir(data_dir)
    pairs: list[WordPair] = []
    for number, line in _read_lines(root, spec.path):
        if _is_blank(line):
            continue
        fields = [field.strip() for field in line.split(spec.separator)]
        if len(fields) != spec.n_fields:
            raise _malformed(spec.path, number, spec.layout, line)
        score = _number(fields[spec.score_field])
        if score is None or not fields[0] or not fields[1]:
            raise _malformed(
                spec.path, number, f"{spec.layout} with two words and a numeric score", line
            )
        pairs.append(WordPair(fields[0], fields[1], score))
    _check_count(spec.path, "word pairs", len(pairs), spec.count)
    return pairs


# ---------------------------------------------------------------------------------------------
# ValNorm
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ValenceWord:
    """A word with its human valence rating (Bellezza et al. 1986, ``combined_pleasantness``)."""

    word: str
    valence: float


_VALNORM_PATH = "valnorm/Bellezza_Lexicon.csv"
_VALNORM_COUNT = 399
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
    """Load the 399 Bellezza words with their ``combined_pleasantness`` valence.

    The columns are found by their header names, not their positions.

    Raises:
        DataError: the file is missing, corrupted or malformed, lacks the ``word`` or
            ``combined_pleasantness`` column, or does not hold 399 words.
    """
    rel = _VALNORM_PATH
    root = dataset_dir(data_dir)
    rows = [(number, line) for number, line in _read_lines(root, rel) if not _is_blank(line)]
    if not rows:
        raise DataError(f"{rel}: the file is empty. {_restore_hint(rel)}")
    header_number, header_line = rows[0]
    header = [name.strip() for name in header_line.split(",")]
    if _VALNORM_WORD_COLUMN not in header or _VALNORM_VALENCE_COLUMN not in header:
        raise _malformed(
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
            raise _malformed(rel, number, f"{len(header)} comma-separated fields", line)
        valence = _number(fields[valence_at])
        if valence is None or not fields[word_at]:
            raise _malformed(rel, number, f"a word and a numeric {_VALNORM_VALENCE_COLUMN}", line)
        words.append(ValenceWord(fields[word_at], valence))
    _check_count(rel, "words", len(words), _VALNORM_COUNT)
    return words


# ---------------------------------------------------------------------------------------------
# STS Benchmark
# ---------------------------------------------------------------------------------------------


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


_STSB_PATH = "sts-benchmark/sts-test.csv"
_STSB_COUNT = 1379
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
    for number, line in _read_lines(root, rel):
        if _is_blank(line):
            continue
        fields = line.split("\t")
        if len(fields) < 7:
            raise _malformed(rel, number, _STSB_LAYOUT, line)
        genre, file, year, sid, score_text, sentence1, sentence2 = fields[:7]
        score = _number(score_text.strip())
        if score is None:
            raise _malformed(rel, number, "a numeric score in the fifth field", line)
        if not sentence1.strip() or not sentence2.strip():
            raise _malformed(rel, number, "two non-empty sentences in fields 6 and 7", line)
        if strip:
            sentence1, sentence2 = sentence1.strip(), sentence2.strip()
        pairs.append(
            StsPair(
                genre.strip(), file.strip(), year.strip(), sid.strip(), score, sentence1, sentence2
            )
        )
    _check_count(rel, "sentence pairs", len(pairs), _STSB_COUNT)
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


# ---------------------------------------------------------------------------------------------
# SemEval STS 2012-2016 sentences (for contextualized word embeddings)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence and the file where it first appears (e.g. ``"2012/MSRpar.test.tsv"``)."""

    text: str
    source: str


#: SemEval STS years available.
STS_YEARS: tuple[int, ...] = (2012, 2013, 2014, 2015, 2016)

_SEMEVAL_DIR = "semeval-sts"
_SEMEVAL_LAYOUT = "3 tab-separated fields 'score<TAB>sentence1<TAB>sentence2'"


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
                f"repository, e.g. `git checkout -- {_REPO_DATA_PATH}/{rel_folder}`."
            )
        names = [p.name for p in folder.glob("*.tsv") if p.is_file()]
        if not names:
            raise DataError(
                f"{rel_folder}: no .tsv files in {folder}. Restore them from the project "
                f"repository, e.g. `git checkout -- {_REPO_DATA_PATH}/{rel_folder}`."
            )
        files.extend(f"{rel_folder}/{name}" for name in names)
    return sorted(files)


def _read_semeval(root: Path, years: Iterable[int]) -> list[tuple[str, list[tuple[str, str]]]]:
    """[(source relative to semeval-sts, [(sentence1, sentence2), ...]), ...], unstripped."""
    result: list[tuple[str, list[tuple[str, str]]]] = []
    for rel in _semeval_files(root, years):
        pairs: list[tuple[str, str]] = []
        for number, line in _read_lines(root, rel):
            if _is_blank(line):
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise _malformed(rel, number, _SEMEVAL_LAYOUT, line)
            score_text, sentence1, sentence2 = fields
            if score_text.strip() and _number(score_text.strip()) is None:
                raise _malformed(rel, number, "an empty or numeric score in the first field", line)
            if not sentence1.strip() or not sentence2.strip():
                raise _malformed(rel, number, "two non-empty sentences", line)
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
    seen: dict[str, str] = {}
    for source, pairs in _read_semeval(root, years):
        for sentence1, sentence2 in pairs:
            for text in (sentence1, sentence2):
                key = text.strip() if strip else text
                if key not in seen:
                    seen[key] = source
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
    return {source: len(pairs) for source, pairs in _read_semeval(root, years)}


def count_sts_pairs(
    years: Iterable[int] = STS_YEARS,
    *,
    data_dir: str | os.PathLike[str] | None = None,
) -> int:
    """Total number of SemEval STS sentence pairs in the given years (26,775 for all)."""
    return sum(sts_sentence_summary(years, data_dir=data_dir).values())


# ---------------------------------------------------------------------------------------------
# Context-window filter
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WindowFilter(Generic[T]):
    """Result of :func:`filter_to_window`.

    Attributes:
        kept: items that fit the context window of every model, in input order.
        dropped: the other items, in input order.
        dropped_by_model: for each model, how many items it alone would drop.
        limits: for each model, the maximum number of tokens allowed.
        token_counts: for each model, the token count of every input item, in input order.
    """

    kept: list[T]
    dropped: list[T]
    dropped_by_model: dict[str, int]
    limits: dict[str, int]
    token_counts: dict[str, list[int]]

    @property
    def n_items(self) -> int:
        """Number of items that were filtered."""
        return len(self.kept) + len(self.dropped)

    def summary(self, noun: str = "sentences") -> str:
        """One sentence describing the result.

        Example: ``"kept 36,123 of 39,443 sentences; dropped 3,320 (clip: 3,320, gpt2: 0)"``.
        """
        detail = ", ".join(f"{model}: {n:,}" for model, n in self.dropped_by_model.items())
        return (
            f"kept {len(self.kept):,} of {self.n_items:,} {noun}; "
            f"dropped {len(self.dropped):,} ({detail})"
        )


def _item_text(item: object) -> str:
    """Default text accessor: the item itself if it is a string, else its ``text`` attribute."""
    if isinstance(item, str):
        return item
    text = getattr(item, "text", None)
    if isinstance(text, str):
        return text
    raise InputError(
        f"cannot get the text of {type(item).__name__} item {item!r}; pass text=<function "
        "returning the string>."
    )


def filter_to_window(
    items: Sequence[T] | Iterable[T],
    counters: Mapping[str, tuple[Callable[[str], int], int]],
    text: Callable[[T], str] = _item_text,
) -> WindowFilter[T]:
    """Keep the items whose text fits the context window of every model.

    The same kept set then serves every model, so results stay comparable across models.

    Args:
        items: strings, :class:`Sentence` objects, or anything ``text`` turns into a string.
        counters: model name -> (function giving the number of tokens a text takes, counting
            the special tokens the model adds, and the maximum number of tokens allowed). Each
            function is called exactly once per item.
        text: returns the text of an item; by default the item itself if it is a string,
            otherwise its ``text`` attribute.

    Returns:
        A :class:`WindowFilter`; an item is kept when its count is ``<= limit`` for every model.

    Raises:
        InputError: no model given, a limit that is not a positive integer, a counter that is
            not callable or returns something other than a non-negative integer.
    """
    if not counters:
        raise InputError("filter_to_window needs at least one model in `counters`.")
    checked: dict[str, tuple[Callable[[str], int], int]] = {}
    for model, spec in counters.items():
        try:
            count_fn, limit = spec
        except (TypeError, ValueError):
            raise InputError(
                f"counters[{model!r}] must be a (count function, max tokens) pair, got {spec!r}."
            ) from None
        if not callable(count_fn):
            raise InputError(f"counters[{model!r}]: the count function is not callable.")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
            raise InputError(
                f"counters[{model!r}]: max tokens must be a positive integer, got {limit!r}."
            )
        checked[model] = (count_fn, limit)

    items = list(items)
    texts = [text(item) for item in items]
    token_counts: dict[str, list[int]] = {}
    for model, (count_fn, _limit) in checked.items():
        counts: list[int] = []
        for item_text in texts:
            n = count_fn(item_text)
            if isinstance(n, bool) or not hasattr(n, "__index__") or int(n) < 0:
                raise InputError(
                    f"counters[{model!r}] returned {n!r} for {_show(item_text)}; expected a "
                    "non-negative integer number of tokens."
                )
            counts.append(int(n))
        token_counts[model] = counts

    limits = {model: limit for model, (_fn, limit) in checked.items()}
    kept: list[T] = []
    dropped: list[T] = []
    for index, item in enumerate(items):
        fits = all(token_counts[model][index] <= limits[model] for model in limits)
        (kept if fits else dropped).append(item)
    dropped_by_model = {
        model: sum(1 for n in token_counts[model] if n > limits[model]) for model in limits
    }
    return WindowFilter(kept, dropped, dropped_by_model, limits, token_counts)


# ---------------------------------------------------------------------------------------------
# Overview (chapter 1)
# ---------------------------------------------------------------------------------------------

#: Where each dataset comes from and under what terms (see PROVENANCE.md for the details).
DATASET_INFO: dict[str, tuple[str, str, str]] = {
    "rg65": ("Rubenstein & Goodenough 1965", "word-similarity/rg65.csv", "research use"),
    "ws353": ("Finkelstein et al. 2001", "word-similarity/wordsim353.csv", "research use"),
    "simlex999": ("Hill et al. 2015", "word-similarity/simlex999.csv", "research use"),
    "simverb3500": ("Gerz et al. 2016", "word-similarity/SimVerb-3500.txt", "research use"),
    "valnorm": (
        "Bellezza, Greenwald & Banaji 1986",
        "valnorm/Bellezza_Lexicon.csv",
        "research use",
    ),
    "stsb": ("Cer et al. 2017", "sts-benchmark/sts-test.csv", "research use"),
    "sts2012-2016": (
        "Agirre et al. 2012-2016",
        "semeval-sts/<year>/*.tsv",
        "research use; 2016 StackExchange parts CC BY-SA 3.0; 2015 answers-forums own licence",
    ),
}


def overview() -> list[dict[str, object]]:
    """One record per dataset: name, file, number of items, an example, source, licence."""
    rows: list[dict[str, object]] = []
    for task in WORD_SIMILARITY_TASKS:
        pairs = load_word_pairs(task)
        p = pairs[0]
        rows.append(
            {
                "dataset": WORD_SIMILARITY_DISPLAY_NAMES[task],
                "items": f"{len(pairs):,} pairs",
                "example": f"{p.word1} / {p.word2}: {p.score:g}",
            }
        )
    lex = load_valnorm()
    rows.append(
        {
            "dataset": "ValNorm (Bellezza)",
            "items": f"{len(lex):,} words + {len(PLEASANT)}+{len(UNPLEASANT)} attribute words",
            "example": f"{lex[0].word}: {lex[0].valence:g}",
        }
    )
    sts = load_sts_benchmark()
    rows.append(
        {
            "dataset": "STS-B test",
            "items": f"{len(sts):,} pairs",
            "example": f"{sts[0].sentence1} / {sts[0].sentence2}: {sts[0].score:g}",
        }
    )
    sents = load_sts_sentences()
    rows.append(
        {
            "dataset": "STS 2012-2016",
            "items": f"{count_sts_pairs():,} pairs, {len(sents):,} unique sentences",
            "example": sents[0].text,
        }
    )
    for row, key in zip(rows, DATASET_INFO, strict=True):
        source, path, licence = DATASET_INFO[key]
        row |= {"file": path, "source": source, "licence": licence}
    return rows


def load_sts_benchmark_quoted(*, data_dir: str | os.PathLike[str] | None = None) -> list[StsPair]:
    """The STS-B test file read the WRONG way, for the ablation of chapter 6 only.

    A quote-honouring CSV reader (Python's ``csv`` with a tab delimiter) merges the
    lines between unbalanced quote characters, as the authors' scripts did
    (methodology note 3: they read 1,273 rows; this reader keeps fewer). Rows with
    at least seven fields and a numeric score are returned; nothing is checked.
    """
    import csv

    root = dataset_dir(data_dir)
    verify_checksums([_STSB_PATH], data_dir=root)
    pairs: list[StsPair] = []
    with open(root / _STSB_PATH, encoding="utf-8", newline="") as handle:
        for fields in csv.reader(handle, delimiter="\t"):
            if len(fields) < 7 or _number(fields[4].strip()) is None:
                continue
            if not fields[5].strip() or not fields[6].strip():
                continue
            genre, file, year, sid, score, s1, s2 = (f.strip() for f in fields[:7])
            pairs.append(StsPair(genre, file, year, sid, float(score), s1, s2))
    return pairs
