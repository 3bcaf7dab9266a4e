"""Where the vendored datasets live, their SHA-256 checks, and line-level reading helpers.

Every file listed in ``datasets/SHA256SUMS`` must exist and match its checksum before any
loader returns (:func:`verify_complete`): a deleted or edited file would otherwise shrink or
change a data set without a word. Digests are memoized per process (keyed by path, size,
modification time and inode), so after the first load the check costs one ``stat`` per file.
Chapter 1 (``notebooks/01_data.ipynb``) describes the data and these checks.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from ..errors import DataError, InputError

#: Folder the loaders read when no ``data_dir`` argument is given; ``None`` means the
#: ``datasets`` folder shipped inside the package. Read at call time, so it can be patched
#: (``monkeypatch.setattr(layerwise.data.integrity, "DATA_DIR", folder)``).
DATA_DIR: Path | str | None = None
SUMS_FILE = "SHA256SUMS"
REPO_DATA_PATH = "src/layerwise/datasets"
_PACKAGED = Path(__file__).resolve().parent.parent / "datasets"


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
    return _PACKAGED


#: The remedy named for a dataset registered at run time (its path is absolute).
USER_HINT = (
    "A registered dataset is checked against the sha256 and count given to register_dataset: "
    "restore the file, or register it again with its new digest and count."
)


def restore_hint(rel: str) -> str:
    if Path(rel).is_absolute():
        return USER_HINT
    return (
        f"Restore it from the project repository, e.g. `git checkout -- {REPO_DATA_PATH}/{rel}`"
        " (or reinstall the package); the vendored data must not be edited."
    )


def verify_complete(data_dir: str | os.PathLike[str] | None = None) -> None:
    """Check that every file listed in ``SHA256SUMS`` exists and matches its checksum.

    Every loader calls this before it returns, so a deleted or altered file is an error
    rather than a data set that silently shrinks. Cheap after the first call in a process
    (digests are memoized; see :func:`checksum`).

    Raises:
        DataError: naming the first missing or altered file (relative to the datasets folder)
            and how to restore it.
    """
    verify_checksums(None, data_dir=data_dir)


# Memo of computed digests: (absolute path, mtime_ns, size, inode, ctime_ns) -> sha256 hex
# digest. The ctime is there because the mtime can be set back (``os.utime``, ``touch -d``,
# ``cp -p``) after an edit in place at the same size; the ctime moves with every write.
# A file modified less than _RACY_NS ago is not memoized: file-system timestamps are coarse,
# so a second change within the same tick could otherwise leave a stale digest in the memo.
_RACY_NS = 2_000_000_000
_CHECKSUM_CACHE: dict[tuple[str, int, int, int, int], str] = {}


def checksum(path: str | os.PathLike[str]) -> str:
    """Return the SHA-256 hex digest of a file.

    The digest is memoized per process, keyed by the absolute path, modification time,
    size, inode and status-change time (the ctime moves with every write, even when the
    mtime is set back afterwards), so a file is hashed again only when it changes (files
    modified in the last two seconds are always hashed, since timestamps are too coarse to
    tell quick edits apart).

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
    key = (str(full), st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
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
            f"checksum list {SUMS_FILE} not found at {sums_path}. {restore_hint(SUMS_FILE)}"
        )
    try:
        text = sums_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {sums_path}: {exc}. {restore_hint(SUMS_FILE)}") from exc
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
                f"{show_line(line)}. {restore_hint(SUMS_FILE)}"
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
                f"project repository (e.g. `git checkout -- {REPO_DATA_PATH}`)."
            )
        full = root / rel
        if not full.is_file():
            raise DataError(f"{rel}: data file not found at {full}. {restore_hint(rel)}")
        actual = checksum(full)
        expected = sums[rel]
        if actual != expected:
            raise DataError(
                f"{rel}: checksum mismatch at {full}: expected sha256 {expected}, got {actual}. "
                f"{_what_changed(full, expected)} {restore_hint(rel)}"
            )
        result[rel] = actual
    return result


def _what_changed(full: Path, expected: str) -> str:
    """Why a file's checksum differs, when it can be told: only its line endings (CRLF, as
    git writes them with ``core.autocrlf=true``) or a byte order mark added at its start."""
    try:
        raw = full.read_bytes()
    except OSError:
        return "The file was modified or corrupted."
    if hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest() == expected:
        return (
            "It differs only in its line endings (CRLF: git's core.autocrlf=true converts "
            "them; the repository's .gitattributes marks the data binary, so a checkout "
            "after pulling it restores the file unchanged)."
        )
    if raw.startswith(b"\xef\xbb\xbf") and hashlib.sha256(raw[3:]).hexdigest() == expected:
        return "It differs only by a UTF-8 byte order mark (BOM) added at its start."
    return "The file was modified or corrupted."


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


def show_line(line: str, limit: int = 80) -> str:
    """repr of the first ``limit`` characters of a line, with ``...`` after it if cut."""
    if len(line) > limit:
        return repr(line[:limit]) + "..."
    return repr(line)


#: The remedy named for a malformed line of a registered dataset: the file may be intact and
#: the entry's ``format`` wrong, so restoring the file is not the only way out.
USER_FORMAT_HINT = (
    "A registered dataset's lines are read by the `format` of its entry (PairFormat: "
    "separator, fields per line, the score's field): give the PairFormat that matches the "
    "file, or fix the file and register it again with its new digest and count."
)


def malformed_line(rel: str, number: int, expected: str, line: str) -> DataError:
    hint = USER_FORMAT_HINT if Path(rel).is_absolute() else restore_hint(rel)
    return DataError(f"{rel}, line {number}: expected {expected}, got {show_line(line)}. {hint}")


def read_lines(root: Path, rel: str) -> list[tuple[int, str]]:
    """Verify a file's checksum, then return its (1-based line number, line) pairs.

    Lines are split on ``\\n`` only (a trailing ``\\r`` is removed); the empty string after
    a final newline is not a line.
    """
    verify_checksums([rel], data_dir=root)
    verify_complete(root)
    return _split_lines(root / rel, rel, restore_hint(rel))


def read_user_lines(path: str | os.PathLike[str], sha256: str) -> list[tuple[int, str]]:
    """:func:`read_lines` for a file outside the datasets folder (a dataset registered at
    run time, :func:`~layerwise.data.register.register_dataset`): the file must match ``sha256``,
    the digest given when it was registered, instead of a line of ``SHA256SUMS``.

    Raises:
        DataError: the file is missing or unreadable, its checksum differs from ``sha256``
            (naming both digests), or it is not UTF-8 text.
    """
    full = Path(path).absolute()
    if not full.is_file():
        raise DataError(f"{full}: data file not found. {USER_HINT}")
    actual = checksum(full)
    if actual != sha256:
        raise DataError(
            f"{full}: checksum mismatch: registered sha256 {sha256}, got {actual}. "
            f"{_what_changed(full, sha256)} {USER_HINT}"
        )
    return _split_lines(full, str(full), USER_HINT)


def _split_lines(full: Path, rel: str, hint: str) -> list[tuple[int, str]]:
    try:
        text = full.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{rel}: not valid UTF-8 ({exc}). {hint}") from exc
    except OSError as exc:
        raise DataError(f"cannot read {full}: {exc}. {hint}") from exc
    refuse_bom(text, rel)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [(number, line.rstrip("\r")) for number, line in enumerate(lines, start=1)]


def refuse_bom(text: str, rel: str) -> None:
    """DataError when a data file's text starts with a UTF-8 byte order mark (BOM): it would
    become part of the first record (the vendored files have none)."""
    if text.startswith("\ufeff"):
        raise DataError(
            f"{rel}: starts with a UTF-8 byte order mark (BOM), which would become part of its "
            f"first record; the vendored file has none (an editor added it). {restore_hint(rel)}"
        )


def is_blank(line: str) -> bool:
    return line.strip(" ") == ""


def parse_number(text: str) -> float | None:
    """Parse a finite float, or return None."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def check_count(rel: str, what: str, found: int, expected: int) -> None:
    if found != expected:
        raise DataError(
            f"{rel}: expected {expected:,} {what}, found {found:,}. {restore_hint(rel)}"
        )
