"""On-disk cache of extracted arrays: keyed, atomic, validated, pickle-free.

A key hashes everything that determines an extraction's result: the model
source and revision, dtype and device type, the requests (ids and read spans),
the setting's label and :data:`~layerwise.extraction.EXTRACTION_VERSION`. An
entry is one ``.npz`` file written to a temporary name and renamed into place
(atomic on POSIX), holding the arrays, the key and a sha256 of the array bytes.
Loading uses ``allow_pickle=False``; a truncated, corrupted or mismatched entry
is reported, deleted and recomputed, never used (chapter 2).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .extraction import EXTRACTION_VERSION, Extracted, Request, extract, requests_digest
from .models import LoadedModel


def default_cache_dir() -> Path:
    """``$LAYERWISE_CACHE``, else ``~/.cache/layerwise``."""
    env = os.environ.get("LAYERWISE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "layerwise"


def cache_key(lm: LoadedModel, requests: Sequence[Request], label: str) -> str:
    spec = lm.spec
    parts = {
        "source": spec.source,
        "revision": spec.revision,
        "dtype": spec.dtype,
        "device": spec.device.split(":")[0],
        "label": label,
        "inputs": requests_digest(requests),
        "version": EXTRACTION_VERSION,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _content_hash(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class Cache:
    """A folder of cached extractions; ``hits``/``misses``/``rejected`` count this session."""

    root: Path = field(default_factory=default_cache_dir)
    hits: int = 0
    misses: int = 0
    rejected: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def load(self, key: str) -> Extracted | None:
        """The entry for ``key``, or None when absent or invalid (then it is deleted)."""
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
        except Exception as err:  # noqa: BLE001 - any unreadable entry is rejected, never used
            self.rejected.append(f"{path}: {err}")
            path.unlink(missing_ok=True)
            return None
        return Extracted(arrays["states"], arrays.get("top_alt"))

    def save(self, key: str, result: Extracted) -> Path:
        arrays = {"states": result.states}
        if result.top_alt is not None:
            arrays["top_alt"] = result.top_alt
        meta = json.dumps({"key": key, "sha256": _content_hash(arrays)})
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(handle, meta=np.array(meta), **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def get_or_compute(self, key: str, compute: Callable[[], Extracted]) -> Extracted:
        found = self.load(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        result = compute()
        self.save(key, result)
        return result


def cached_extract(
    lm: LoadedModel,
    requests: Sequence[Request],
    *,
    label: str,
    cache: Cache | None = None,
    **kwargs,
) -> Extracted:
    """:func:`~layerwise.extraction.extract` through ``cache`` (no cache: compute)."""
    if cache is None:
        return extract(lm, requests, desc=label, **kwargs)
    key = cache_key(lm, requests, label)
    return cache.get_or_compute(key, lambda: extract(lm, requests, desc=label, **kwargs))
