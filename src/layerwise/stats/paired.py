"""Paired bootstrap differences between two models on the same items.

Estimator (book chapter: ``notebooks/07_beyond.ipynb``, section "Paired differences")
------------------------------------------------------------------------------------
For a task scored by a correlation over items (word pairs, words or sentence
pairs), model A scores ``r_A = corr(x_A, y)`` and model B ``r_B = corr(x_B, y)``
on the *same* items with the same human ratings ``y``.  The difference
``r_A - r_B`` gets a 95% percentile bootstrap interval in which each resample
draws one set of item indices and recomputes *both* correlations on it
(:func:`layerwise.stats.correlation.bootstrap_ci` with ``paired=True``), so the
interval reflects only how the two models disagree, not the sampling of items
twice.  The layers compared are fixed beforehand (the best layer of each model
on the full data, or the top layer), as in Table 1's "Best" and "Top" columns.
Identical inputs give the interval ``[0, 0]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .correlation import STATISTICS, bootstrap_ci


@dataclass(frozen=True)
class Difference:
    """``value = r_A - r_B`` with its paired 95% interval ``[low, high]`` over ``n`` items."""

    value: float
    low: float
    high: float
    n: int


def paired_difference(
    x_a: np.ndarray,
    x_b: np.ndarray,
    target: np.ndarray,
    *,
    method: str = "spearman",
    rng: np.random.Generator | int,
    n_resamples: int = 1000,
) -> Difference:
    """``corr(x_a, target) - corr(x_b, target)`` with a paired bootstrap CI.

    Args:
        x_a, x_b: one value per item for each model (cosines or effect sizes), ``[n]``.
        target: the human ratings, ``[n]``.
        method: ``"spearman"`` or ``"pearson"``.
        rng: generator or seed (the CI is reproducible given it).
        n_resamples: bootstrap resamples.
    """
    if method not in STATISTICS:
        raise InputError(f"unknown method {method!r}; choose one of {sorted(STATISTICS)}")
    a, b, y = (np.asarray(v, dtype=np.float64) for v in (x_a, x_b, target))
    if not (a.ndim == b.ndim == y.ndim == 1) or not (len(a) == len(b) == len(y)):
        raise InputError(
            f"x_a, x_b and target must be 1-D of one length, got {a.shape}, {b.shape}, {y.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all() and np.isfinite(y).all()):
        raise InputError("x_a, x_b and target must be finite")
    stat = STATISTICS[method]

    def difference(xa: np.ndarray, xb: np.ndarray, t: np.ndarray, axis: int = -1) -> np.ndarray:
        return stat(xa, t, axis=axis) - stat(xb, t, axis=axis)

    value = float(difference(a, b, y))
    low, high = bootstrap_ci(difference, (a, b, y), rng=rng, n_resamples=n_resamples)
    return Difference(value, float(low), float(high), len(y))
