"""On-disk cache of extracted arrays and computed tables: keyed, atomic, validated, pickle-free.

A key (:mod:`.keys`) hashes everything that determines a result: the model's
fingerprint (hub snapshot commit, or a digest of its files; see
:mod:`layerwise.models.fingerprint`), dtype and device type, the spec fields extraction
uses, the requests (ids and read spans), the setting's label and a hash of the
extraction code and of the torch and transformers versions. An entry is one file
written to a temporary name and renamed into place (atomic on POSIX): a ``.safetensors``
file of the states, one tensor per layer with the key and a sha256 in its metadata
(:mod:`.entries`; a measurement reads one layer at a time), or a CSV table with a JSON
header.
Loading never unpickles (safetensors holds plain tensors, tables are CSV and JSON) and
checks the arrays' shapes against the request; a truncated, corrupted or mismatched
entry is reported, removed where the folder allows and recomputed, never used. Writing
is proved only before a write (a miss), so a complete warm cache on a read-only disk
can be read; entries get the mode the user's umask gives a new file. The cache deletes
only what it created: temporaries named with the package's prefix, in the folders it
owns (:meth:`Cache.own_folders`), never a user's file under the same root. Chapter 2
explains the cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import CacheError
from ..extract.states import Extracted
from ..files import (
    ORPHAN_AGE_S,
    atomic_write,
    clean_own_temporaries,
    repository_root,
    temp_name,
)
from .entries import SUFFIX, file_identity, read_entry, write_arrays

#: Folders below the cache's root that the package creates and writes (``models/`` holds
#: the specs, converted tokenizers and weights and the digest memo of model files).
OWN_SUBFOLDERS = (
    "models",
    "models/specs",
    "models/tokenizers",
    "models/weights",
    "specs",
    "tokenizers",
    "weights",
)
#: The shard folders of the entries: the first two hex digits of a key.
_SHARD = re.compile(r"[0-9a-f]{2}")
#: Entries this process has verified (sha256), by path: the file's identity (device,
#: inode, size, modification and status-change times) when it was verified. An entry is
#: replaced only by renaming a new file into place (a new inode), and a write in place moves
#: the ctime, so an unchanged identity means unchanged bytes, and reading it again in the
#: same process skips the second pass over its bytes.
_VERIFIED: dict[str, tuple[int, int, int, int, int]] = {}


def default_cache_dir() -> Path:
    """``$LAYERWISE_CACHE``; else ``.cache/layerwise`` of the layerwise checkout the
    working directory is in (so ``make book`` and a notebook opened in JupyterLab
    share one cache); else ``~/.cache/layerwise``."""
    env = os.environ.get("LAYERWISE_CACHE")
    if env:
        return Path(env)
    root = repository_root()
    if root is not None:
        return root / ".cache" / "layerwise"
    return Path.home() / ".cache" / "layerwise"


@dataclass
class Cache:
    """A folder of cached results; ``hits``/``misses``/``rejected`` count this session."""

    root: Path = field(default_factory=default_cache_dir)
    hits: int = 0
    misses: int = 0
    rejected: list[str] = field(default_factory=list)
    #: reused / computed entries this session by kind: "extractions" (hidden states),
    #: "tables", "intervals" (bootstrap), "values" (token counts, sentence sets, checks)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    #: keys of the extraction entries this session's extraction plan wrote
    #: (:mod:`layerwise.store.plan`): reading one counts as computed, not reused
    planned: set[str] = field(default_factory=set)
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    # ------------------------------------------------------------ housekeeping
    def check_readable(self) -> None:
        """Check the folder can be read (create it when missing), without writing to it.

        A run checks this up front: a complete warm cache on a read-only disk can be read;
        writing is proved (:meth:`ensure_writable`) only before the first write, a miss.
        Raises :class:`CacheError` naming the folder and the remedy.
        """
        if not self.root.exists():
            self.ensure_writable()
            return
        if not self.root.is_dir() or not os.access(self.root, os.R_OK | os.X_OK):
            raise CacheError(
                f"the cache folder {self.root} cannot be read (not a folder, or no read "
                "permission). Remedy: fix its permissions, or choose another folder with "
                "--cache-dir / the LAYERWISE_CACHE variable."
            )

    def ensure_writable(self) -> None:
        """Create the folder and prove it takes a file; clean the package's orphan temporaries.

        Called before a write (a cache miss), never before a read. Raises
        :class:`CacheError` naming the folder and the remedy.
        """
        if self._checked:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            prefix, suffix = temp_name("probe-")
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=prefix, suffix=suffix)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(b"x" * 4096)
                    handle.flush()
                    os.fsync(handle.fileno())
            finally:
                os.unlink(probe)
        except OSError as err:
            raise CacheError(
                f"the cache folder {self.root} cannot be written ({err.strerror or err}). "
                "Remedy: free space or fix its permissions, or choose another folder with "
                "--cache-dir / the LAYERWISE_CACHE variable."
            ) from err
        self.clean_orphans()
        self._checked = True

    def own_folders(self) -> list[Path]:
        """The folders the cache creates and writes: its root (only its own temporaries live
        there), the two-hex-digit shard folders and :data:`OWN_SUBFOLDERS`. Nothing else
        under the root is the cache's, whatever it is called."""
        folders = [self.root]
        try:
            folders += sorted(
                p for p in self.root.iterdir() if _SHARD.fullmatch(p.name) and p.is_dir()
            )
        except OSError:
            return []
        folders += [self.root / sub for sub in OWN_SUBFOLDERS if (self.root / sub).is_dir()]
        return folders

    def clean_orphans(self) -> int:
        """Remove the package's own temporaries left by killed runs (named
        ``.layerwise-...<pid>.tmp``, writer gone or older than :data:`ORPHAN_AGE_S`) in
        :meth:`own_folders`; returns how many. A user's files are never touched."""
        return sum(
            clean_own_temporaries(folder, max_age_s=ORPHAN_AGE_S) for folder in self.own_folders()
        )

    def _count(self, kind: str, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        per = self.counts.setdefault(kind, {"reused": 0, "computed": 0})
        per["reused" if hit else "computed"] += 1

    def path(self, key: str, suffix: str = SUFFIX) -> Path:
        """The entry file of ``key`` (an array entry unless ``suffix`` says otherwise),
        in the shard folder of its first two hex digits."""
        return self.root / key[:2] / f"{key}{suffix}"

    def _reject(self, path: Path, reason: object) -> None:
        note = f"{path}: {reason}"
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            note += f" (could not be removed: {err.strerror or err})"
        self.rejected.append(note)
        warnings.warn(f"cache entry rejected and recomputed: {note}", stacklevel=3)

    def _write(self, path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
        self.ensure_writable()
        try:
            atomic_write(path, write, mode=mode)
        except OSError as err:
            raise CacheError(
                f"could not write the cache entry {path} ({err.strerror or err}). Remedy: "
                "free space or fix permissions, or pass another --cache-dir."
            ) from err

    # ------------------------------------------------------------ arrays
    def load(
        self, key: str, expect: tuple[int, int, int] | None = None, alt: bool | None = None
    ) -> Extracted | None:
        """The entry for ``key``, or None when absent or invalid (then it is removed).

        ``expect`` is the ``(n_reads, n_states, d)`` the request must give, and
        ``alt`` whether the entry must (True) or must not (False) hold ``top_alt``.
        The entry's checksum is verified reading it in chunks (once per process while the
        file stays the same file: :data:`_VERIFIED`); its states are then read
        one layer at a time when used (:class:`~layerwise.store.entries.EntryLayers`), so
        loading holds one layer's ``[n, d]`` in memory, never all of them.
        """
        path = self.path(key)
        if not path.exists():
            return None
        try:
            known = _VERIFIED.get(str(path))
            seen = file_identity(path)
            meta, layers, top_alt = read_entry(path, verify=known != seen)
            _VERIFIED[str(path)] = seen
            if meta.get("key") != key:
                raise ValueError("key mismatch")
            if expect is not None and tuple(layers.shape) != tuple(expect):
                raise ValueError(f"shape {layers.shape} where the request needs {expect}")
            if alt is not None and alt != (top_alt is not None):
                raise ValueError("top_alt present where none is expected, or missing")
        except Exception as err:  # noqa: BLE001 - any unreadable entry is rejected, never used
            _VERIFIED.pop(str(path), None)
            self._reject(path, err)
            return None
        return Extracted(top_alt=top_alt, layers=layers)

    def save(self, key: str, result: Extracted) -> Path:
        """Write ``result`` under ``key`` (atomically), one layer at a time: an entry is a
        safetensors file of float32 tensors ``layer_000`` ... (``[n, d]`` each) and
        ``top_alt`` (``[n, d]``, when the model has a final norm), its metadata holding the
        key and a sha256 (:mod:`.entries`)."""
        path = self.path(key)
        self._write(path, lambda handle: write_arrays(handle, key, result))
        return path

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[], Extracted],
        expect: tuple[int, int, int] | None = None,
        alt: bool | None = None,
    ) -> Extracted:
        """The entry for ``key``, or ``compute()`` saved under it. A result computed into a
        spill file (``extract(..., spill=...)``) is moved into the entry layer by layer and
        the spill removed; what is returned then reads its layers from the entry."""
        found = self.load(key, expect, alt)
        if found is not None:
            self._count("extractions", key not in self.planned)
            return found
        self.ensure_writable()  # fail before the work, not after it
        self._count("extractions", False)
        result = compute()
        try:
            path = self.save(key, result)
        finally:
            spill = result.file
            if spill is not None and spill != self.path(key):
                spill.unlink(missing_ok=True)
        if not result.on_disk:
            return result
        _, layers, top_alt = read_entry(path, verify=False)
        return Extracted(top_alt=top_alt, layers=layers)

    # ------------------------------------------------------------ tables and JSON values
    def get_or_compute_frame(self, key: str, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """A computed table through the cache (CSV with a JSON first line holding the key,
        the column dtypes and a sha256 of the CSV text)."""
        path = self.path(key, ".csv")
        if path.exists():
            try:
                header, body = path.read_text().split("\n", 1)
                meta = json.loads(header)
                if meta.get("key") != key or meta.get("sha256") != _sha(body):
                    raise ValueError("key or checksum mismatch")
                frame = pd.read_csv(io.StringIO(body), keep_default_na=False, na_values=[""])
                frame = frame.astype(meta["dtypes"])
                self._count("tables", True)
                return frame
            except Exception as err:  # noqa: BLE001 - any unreadable entry is rejected
                self._reject(path, err)
        self.ensure_writable()
        self._count("tables", False)
        frame = compute()
        body = frame.to_csv(index=False)
        dtypes = {c: str(t) for c, t in frame.dtypes.items()}
        header = json.dumps({"key": key, "sha256": _sha(body), "dtypes": dtypes})
        self._write(path, lambda handle: handle.write(header + "\n" + body), mode="w")
        return frame

    def get_or_compute_json(
        self, key: str, compute: Callable[[], Any], kind: str = "values"
    ) -> Any:
        """A JSON-serialisable value through the cache, counted under ``kind``."""
        path = self.path(key, ".json")
        if path.exists():
            try:
                meta = json.loads(path.read_text())
                if meta.get("key") != key or meta.get("sha256") != _sha(
                    json.dumps(meta.get("value"), sort_keys=True)
                ):
                    raise ValueError("key or checksum mismatch")
                self._count(kind, True)
                return meta["value"]
            except Exception as err:  # noqa: BLE001 - any unreadable entry is rejected
                self._reject(path, err)
        self.ensure_writable()
        self._count(kind, False)
        value = compute()
        text = json.dumps(
            {"key": key, "sha256": _sha(json.dumps(value, sort_keys=True)), "value": value}
        )
        self._write(path, lambda handle: handle.write(text), mode="w")
        return value

    def report(self) -> str:
        """How many entries of each kind this session reused and computed, and how many it
        rejected."""
        kinds = "; ".join(
            f"{kind} {n['reused']} reused, {n['computed']} computed"
            for kind, n in sorted(self.counts.items())
        )
        return f"{kinds or 'nothing read'}; {len(self.rejected)} rejected (cache {self.root})"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
