"""Datasets of one's own, added to the registry at run time without editing the package.

:func:`register_dataset` adds a word-similarity :class:`~.registry.Dataset` to
:data:`~.registry.DATASETS`; from then on it is a word task like the paper's: the word-task
table of chapter 4, Table 1 (without a paper number), the word-task figure and chapter 7's
compare tables include it. :func:`registered` adds datasets for the length of a ``with``
block and removes them after it, even on an error.

How a registered file is verified: its entry names the file by an absolute path and gives
its SHA-256 digest (``sha256``) and record count (``count``). The file is checked against
both when it is registered and at every later read (the digest is memoized per process,
like the vendored files'), so an edited or truncated file is a
:class:`~layerwise.errors.DataError` naming the file, never a silently changed number. A
registered file is not listed in ``datasets/SHA256SUMS``: that list covers the vendored
files only. Cached tables are keyed by the registered datasets' digests
(:func:`~.registry.user_datasets`), so a table is never reused across another set of
datasets. To ship a dataset with the package instead, follow the dataset checklist of
``CONTRIBUTING.md``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from ..errors import DataError, InputError
from .integrity import checksum
from .registry import DATASETS, VENDORED, Dataset
from .words import load_word_pairs

#: The kinds a dataset registered at run time may have (the only kind with a generic loader).
REGISTRABLE_KINDS = ("word_similarity",)


def register_dataset(dataset: Dataset) -> Dataset:
    """Add a word-similarity ``dataset`` to :data:`~.registry.DATASETS`, after checking it.

    Args:
        dataset: a :class:`~.registry.Dataset` of kind ``word_similarity`` with a new
            ``key``, a ``format`` (:class:`~.registry.PairFormat`), ``path`` an existing
            file (made absolute), ``sha256`` its SHA-256 hex digest (``sha256sum FILE``) and
            ``count`` its number of word pairs. ``metric`` is ``"spearman"``.

    Returns:
        The entry as registered (its path absolute).

    Raises:
        InputError: the key is taken, the kind is not ``word_similarity``, the format,
            digest or metric is missing or malformed.
        DataError: the file is missing, does not match ``sha256``, is malformed, or does
            not hold ``count`` pairs (the entry is not registered).
    """
    if not isinstance(dataset, Dataset):
        raise InputError(f"register_dataset needs a Dataset, got {type(dataset).__name__}.")
    key = dataset.key
    if key in DATASETS:
        raise InputError(
            f"a dataset {key!r} is already registered; choose another key "
            "(or unregister_dataset it first)."
        )
    if dataset.kind not in REGISTRABLE_KINDS:
        raise InputError(
            f"dataset {key!r}: kind {dataset.kind!r} cannot be registered at run time "
            f"(only {', '.join(REGISTRABLE_KINDS)}); another kind needs its own loader "
            "(CONTRIBUTING.md, the dataset checklist)."
        )
    if dataset.format is None or dataset.metric != "spearman":
        raise InputError(
            f"dataset {key!r}: a word-similarity set needs a PairFormat and metric 'spearman'."
        )
    digest = dataset.sha256.strip().lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise InputError(
            f"dataset {key!r}: sha256 must be the file's 64-hex-digit SHA-256 digest "
            f"(`sha256sum {dataset.path}`), got {dataset.sha256!r}."
        )
    path = Path(dataset.path).expanduser().absolute()
    if not path.is_file():
        raise DataError(
            f"dataset {key!r}: file not found at {path}; give the file's path as `path` "
            f"(a relative path is read from the working directory, {Path.cwd()})."
        )
    if checksum(path) != digest:
        raise DataError(
            f"dataset {key!r}: {path} has sha256 {checksum(path)}, not the {digest} given; "
            "give the digest of the file as it is (`sha256sum FILE`)."
        )
    entry = replace(dataset, path=str(path), sha256=digest)
    DATASETS[key] = entry
    try:
        load_word_pairs(key)  # parses every line and checks the count
    except Exception:
        del DATASETS[key]
        raise
    return entry


def unregister_dataset(key: str) -> None:
    """Remove a dataset registered with :func:`register_dataset`.

    Raises:
        InputError: ``key`` is a vendored dataset (they cannot be removed) or not registered.
    """
    if key in VENDORED:
        raise InputError(f"{key!r} is a vendored dataset and cannot be unregistered.")
    if key not in DATASETS:
        raise InputError(f"no dataset {key!r} is registered.")
    del DATASETS[key]


@contextlib.contextmanager
def registered(*datasets: Dataset) -> Iterator[tuple[Dataset, ...]]:
    """Register ``datasets`` (:func:`register_dataset`) for the length of a ``with`` block;
    they are removed after it, even when it raises. Yields the entries as registered."""
    added: list[Dataset] = []
    try:
        for d in datasets:
            added.append(register_dataset(d))
        yield tuple(added)
    finally:
        for d in reversed(added):
            DATASETS.pop(d.key, None)
