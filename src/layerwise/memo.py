"""Memoised bootstrap intervals: a re-run reads them instead of resampling again.

Bootstrap intervals are the most expensive numbers after extraction. They are a
pure function of the scored values, the targets, the method, the number of
resamples and the generator's state, so they are cached under a key of exactly
those (array bytes hashed) plus the package's code hash. A hit also restores the
generator's state after the resampling, so every later draw is the same as in a
run that computed: a warm run gives the same numbers, bit for bit. Active for the
cache given to :func:`activate` (a run's :meth:`~layerwise.runs.RunConfig.settings`
does it); without one, intervals are computed as usual.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextvars import ContextVar

import numpy as np

from .cache import Cache, key_of
from .fingerprint import package_hash

_ACTIVE: ContextVar[Cache | None] = ContextVar("layerwise_bootstrap_memo", default=None)


def activate(cache: Cache | None) -> None:
    """Memoise bootstrap intervals in ``cache`` from now on (None: stop)."""
    _ACTIVE.set(cache)


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()


def interval(
    kind: str,
    arrays: tuple[np.ndarray, ...],
    params: dict[str, object],
    rng: np.random.Generator,
    compute: Callable[[], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """``compute()`` (low and high bounds), through the active cache if there is one."""
    cache = _ACTIVE.get()
    if cache is None:
        return compute()
    key = key_of(
        {
            "kind": kind,
            "arrays": [_digest(a) for a in arrays],
            "params": params,
            "rng": rng.bit_generator.state,
            "package": package_hash(),
        }
    )

    def run() -> dict[str, object]:
        low, high = compute()
        return {
            "low": np.asarray(low, dtype=np.float64).tolist(),
            "high": np.asarray(high, dtype=np.float64).tolist(),
            "rng_after": rng.bit_generator.state,
        }

    before = cache.hits
    entry = cache.get_or_compute_json(key, run)
    if cache.hits > before:
        rng.bit_generator.state = entry["rng_after"]
    return np.asarray(entry["low"], dtype=np.float64), np.asarray(entry["high"], dtype=np.float64)
