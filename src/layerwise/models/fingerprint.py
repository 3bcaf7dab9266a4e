"""Fingerprints: what determines a result, reduced to a short string for cache keys.

A cached array is only as trustworthy as its key. The key of an extraction names
- the model's *weights*: for a hub model the resolved snapshot commit (never a
  branch name), for a local folder or a packaged model a sha256 of its weight,
  config and tokenizer files, for a ``tiny:`` model its config and seed;
- the *code* that computes extraction: a sha256 of the source of the modules
  of the subpackages in :data:`CODE_PACKAGES` plus the torch and transformers versions, so a
  change to extraction invalidates old entries without anyone bumping a constant.

Hashing a 500 MB checkpoint takes seconds, so file digests are memoised in a small
JSON file beside the cache, keyed by path, size, modification and change time
(``st_ctime`` cannot be set back by a user, so an in-place rewrite is still caught).
Chapter 2 (``notebooks/02_extraction``) explains the cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..files import atomic_write_text, sha256_file

#: Subpackages whose source determines what extraction returns.
CODE_PACKAGES = ("extract", "models")
#: Files of a model folder that determine its weights and tokenization.
MODEL_FILE_SUFFIXES = (".safetensors", ".bin", ".gguf", ".json", ".txt", ".model", ".pt", ".pth")
#: The package root (``layerwise/``).
_HERE = Path(__file__).resolve().parent.parent


class DigestMemo:
    """sha256 of files, memoised on (path, size, mtime, ctime, inode) in a JSON file.

    A memo that cannot be read is ignored and one that cannot be written is not
    written: it only ever saves time, it never decides a digest.
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memo: dict[str, str] = {}
        self._dirty = False
        if path is not None:
            try:
                loaded = json.loads(path.read_text())
                if isinstance(loaded, dict):
                    self._memo = {str(k): str(v) for k, v in loaded.items()}
            except (OSError, ValueError):
                pass

    @staticmethod
    def _stat_key(path: Path) -> str:
        st = path.stat()
        return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"

    def digest(self, path: Path) -> str:
        key = self._stat_key(path)
        found = self._memo.get(key)
        if found is None:
            found = sha256_file(path)
            self._memo[key] = found
            self._dirty = True
        return found

    def flush(self) -> None:
        if self.path is None or not self._dirty:
            return
        try:
            atomic_write_text(self.path, json.dumps(self._memo))
            self._dirty = False
        except OSError:
            pass


def model_files(folder: Path) -> list[Path]:
    """The files of a model folder (recursively) that can change its results."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.suffix in MODEL_FILE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def folder_digest(folder: Path, memo: DigestMemo | None = None, files: Iterable[Path] = ()) -> str:
    """sha256 over the names and contents of a model folder's files."""
    memo = memo or DigestMemo(None)
    chosen = sorted(files) if files else model_files(folder)
    h = hashlib.sha256()
    for path in chosen:
        h.update(str(path.relative_to(folder)).encode())
        h.update(memo.digest(path).encode())
    memo.flush()
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """sha256 of the extraction code and the versions of the libraries that run it."""
    h = hashlib.sha256()
    for package in CODE_PACKAGES:
        for path in sorted((_HERE / package).glob("*.py")):
            h.update(str(path.relative_to(_HERE)).encode())
            h.update(path.read_bytes())
    for package in ("torch", "transformers"):
        try:
            h.update(f"{package}=={version(package)}".encode())
        except PackageNotFoundError:
            h.update(f"{package} absent".encode())
    return h.hexdigest()[:16]


def hub_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The local snapshot folder of ``repo_id`` at ``revision`` (default: main), if cached.

    The folder's name is the resolved commit. Found through ``config.json``, which
    every model snapshot holds.
    """
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    return Path(found).parent if isinstance(found, str) else None
