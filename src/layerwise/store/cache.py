"""On-disk cache of extracted arrays and computed tables: keyed, atomic, validated, pickle-free.

A key (:mod:`.keys`) hashes everything that determines a result: the model's
fingerprint (hub snapshot commit, or a digest of its files; see
:mod:`layerwise.models.fingerprint`), dtype and device type, the spec fields extraction
uses, the requests (ids and read spans), the setting's label and a hash of the
extraction code and of the torch and transformers versions. An entry is one file
written to a temporary name and renamed into place (atomic on POSIX): ``.npz``
arrays with the key and a sha256 of their bytes, or a CSV table with a JSON header.
Loading uses ``allow_pickle=False`` and checks the arrays' shapes against the
request; a truncated, corrupted or mismatched entry is reported, removed where the
folder allows and recomputed, never used. Chapter 2 explains the cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import CacheError
from ..extract.batched import Extracted
from ..files import atomic_write, repository_root

#: Temporary files older than this, or whose writer is gone, are orphans.
ORPHAN_AGE_S = 3600.0


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


def _content_hash(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.shape).encode())
        h.update(memoryview(a).cast("B"))  # the array's bytes, without copying them
    return h.hexdigest()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


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
    _checked: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    # ------------------------------------------------------------ housekeeping
    def ensure_writable(self) -> None:
        """Create the folder and prove it takes a file; clean orphan temporary files.

        Raises :class:`CacheError` naming the folder and the remedy.
        """
        if self._checked:
            return
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".probe-", suffix=".tmp")
            with os.fdopen(fd, "wb") as handle:
                handle.write(b"x" * 4096)
                handle.flush()
                os.fsync(handle.fileno())
            os.unlink(probe)
        except OSError as err:
            raise CacheError(
                f"the cache folder {self.root} cannot be written ({err.strerror or err}). "
                "Remedy: free space or fix its permissions, or choose another folder with "
                "--cache-dir / the LAYERWISE_CACHE variable."
            ) from err
        self.clean_orphans()
        self._checked = True

    def clean_orphans(self) -> int:
        """Remove temporary files left by killed runs; returns how many."""
        removed = 0
        now = time.time()
        for tmp in self.root.rglob("*.tmp"):
            pid = tmp.name.split(".")[-2] if tmp.name.count(".") >= 2 else ""
            try:
                stale = now - tmp.stat().st_mtime > ORPHAN_AGE_S
                if (pid.isdigit() and not _pid_alive(int(pid))) or stale:
                    if tmp.is_dir():
                        import shutil

                        shutil.rmtree(tmp, ignore_errors=True)
                    else:
                        tmp.unlink()
                    removed += 1
            except OSError:
                continue
        return removed

    def _count(self, kind: str, hit: bool) -> None:
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        per = self.counts.setdefault(kind, {"reused": 0, "computed": 0})
        per["reused" if hit else "computed"] += 1

    def path(self, key: str, suffix: str = ".npz") -> Path:
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
        """
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(str(arrays.pop("meta")))
            if not isinstance(meta, dict) or "states" not in arrays:
                raise ValueError("not a layerwise cache entry")
            if meta.get("key") != key or meta.get("sha256") != _content_hash(arrays):
                raise ValueError("key or checksum mismatch")
            states = arrays["states"]
            if expect is not None and tuple(states.shape) != tuple(expect):
                raise ValueError(f"shape {states.shape} where the request needs {expect}")
            top_alt = arrays.get("top_alt")
            if alt is not None and alt != (top_alt is not None):
                raise ValueError("top_alt present where none is expected, or missing")
            if top_alt is not None and top_alt.shape != (states.shape[0], states.shape[2]):
                raise ValueError(f"top_alt shape {top_alt.shape} does not match {states.shape}")
        except Exception as err:  # noqa: BLE001 - any unreadable entry is rejected, never used
            self._reject(path, err)
            return None
        return Extracted(states, top_alt)

    def save(self, key: str, result: Extracted) -> Path:
        arrays = {"states": result.states}
        if result.top_alt is not None:
            arrays["top_alt"] = result.top_alt
        meta = json.dumps({"key": key, "sha256": _content_hash(arrays)})
        path = self.path(key)
        self._write(path, lambda handle: np.savez(handle, meta=np.array(meta), **arrays))
        return path

    def get_or_compute(
        self,
        key: str,
        compute: Callable[[], Extracted],
        expect: tuple[int, int, int] | None = None,
        alt: bool | None = None,
    ) -> Extracted:
        found = self.load(key, expect, alt)
        if found is not None:
            self._count("extractions", True)
            return found
        self.ensure_writable()  # fail before the work, not after it
        self._count("extractions", False)
        result = compute()
        self.save(key, result)
        return result

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
