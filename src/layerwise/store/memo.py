"""Memoised bootstrap intervals: a re-run reads them instead of resampling again.

Bootstrap intervals are the most expensive numbers after extraction. They are a pure
function of the scored values, the targets, the method, the number of resamples and the
generator's state, so they are kept in the run's value cache under a key of exactly those
(array bytes hashed) and the code of the module that resamples (the closure of the
module defining the ``compute`` function it is handed, ``layerwise.store.cached.value_key``; today
``layerwise.stats.correlation``). So an edit to a measurement that leaves its scored
values unchanged recomputes the table but reads its intervals. A hit also restores the
generator's state after the resampling, so every later draw is the same as in a run that
computed: a warm run gives the same numbers, bit for bit.

It is the value cache's door for the estimators, not a second cache: the entries are the
cache's JSON values (counted as ``intervals``), keyed by the one key function. It stays a
small object because :mod:`layerwise.stats` sits below the store (it sees only the
:class:`~layerwise.stats.correlation.IntervalMemo` protocol) and because a hit must also
move the caller's generator. What it saves, measured on the ``tiny`` profile at reduced
scale (200 resamples) after an estimator edit outside the bootstrap's closure, every
table recomputed from cached states: 20.9 s of CPU with it (116 intervals read), 24.5 s
without; the resampling grows with the number of resamples (1,000 at full scale), the rest
does not. A :class:`BootstrapMemo` is an object a run hands down
(:class:`~layerwise.measure.common.MeasureOptions` carries it to every score), never a
global.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .cache import Cache
from .cached import producer_of, value_key


def _digest(a: np.ndarray) -> str:
    a = np.ascontiguousarray(a)
    return hashlib.sha256(f"{a.dtype}{a.shape}".encode() + a.tobytes()).hexdigest()


@dataclass
class BootstrapMemo:
    """Bootstrap intervals kept in ``cache`` (see the module's docstring)."""

    cache: Cache
    #: intervals read from the cache / computed, this session
    reused: int = 0
    computed: int = 0

    def interval(
        self,
        kind: str,
        arrays: tuple[np.ndarray, ...],
        params: dict[str, object],
        rng: np.random.Generator,
        compute: Callable[[], tuple[np.ndarray, np.ndarray]],
    ) -> tuple[np.ndarray, np.ndarray]:
        """``compute()`` (low and high bounds, float64 arrays), or the stored bounds of the
        same ``kind``, arrays, ``params`` and generator state, leaving ``rng`` where
        ``compute()`` would have left it."""
        key = value_key(
            "bootstrap interval",
            producer_of(compute),
            kind=kind,
            arrays=[_digest(a) for a in arrays],
            params=params,
            rng=rng.bit_generator.state,
        )
        ran = False

        def run() -> dict[str, object]:
            nonlocal ran
            ran = True
            low, high = compute()
            return {
                "low": np.asarray(low, dtype=np.float64).tolist(),
                "high": np.asarray(high, dtype=np.float64).tolist(),
                "rng_after": rng.bit_generator.state,
            }

        entry = self.cache.get_or_compute_json(key, run, kind="intervals")
        if ran:
            self.computed += 1
        else:
            self.reused += 1
            rng.bit_generator.state = entry["rng_after"]
        low = np.asarray(entry["low"], dtype=np.float64)
        high = np.asarray(entry["high"], dtype=np.float64)
        return low, high
