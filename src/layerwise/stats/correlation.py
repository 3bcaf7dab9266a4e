"""Correlations with bootstrap confidence intervals, layer by layer.

* :func:`spearman_statistic` / :func:`pearson_statistic`: vectorised along the last
  axis (rank with :func:`scipy.stats.rankdata`, then Pearson); :data:`STATISTICS` names
  them.
* :func:`bootstrap_ci`: a thin wrapper on :func:`scipy.stats.bootstrap` (paired
  resampling of items -- word pairs, words or sentence pairs --, percentile method,
  seeded ``numpy`` generator). All layers are resampled with the *same* item indices in
  one call. Inside the bootstrap a resample is represented by the multiplicity of each
  item, and its average ranks follow from cumulative counts in each layer's fixed sort
  order (no re-sorting per resample); the result is identical to re-ranking every
  resample, and 13 layers x 3,500 pairs x 1,000 resamples take about a second.
* :func:`correlation_scores`: one :class:`Score` per layer of ``[n, L]`` values against
  ``[n]`` targets, with its interval. A run passes an :class:`IntervalMemo` down so a
  warm re-run reads intervals instead of resampling (no global state).

Undefined results are NaN, not errors (a constant layer has no correlation); bad input
(empty, mismatched lengths, NaN or infinite targets, constant targets) raises
:class:`~layerwise.errors.InputError`. The tasks built on these are in :mod:`.scores`;
chapter 4 (``notebooks/04_word_tasks``) explains the estimators.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy import stats

from ..errors import InputError

__all__ = [
    "STATISTICS",
    "best_layer",
    "IntervalMemo",
    "Score",
    "bootstrap_ci",
    "correlation_scores",
    "pearson_statistic",
    "spearman_statistic",
]


class IntervalMemo(Protocol):
    """Stores bootstrap intervals: ``interval`` returns ``compute()`` (the low and high
    bounds), or the bounds stored under the same arrays, parameters and generator state,
    leaving ``rng`` in the state ``compute()`` would have left it
    (:class:`layerwise.store.memo.BootstrapMemo`)."""

    def interval(
        self,
        kind: str,
        arrays: tuple[np.ndarray, ...],
        params: dict[str, object],
        rng: np.random.Generator,
        compute: Callable[[], tuple[np.ndarray, np.ndarray]],
    ) -> tuple[np.ndarray, np.ndarray]: ...


RngLike = np.random.Generator | int | None


@dataclass(frozen=True)
class Score:
    """One correlation score.

    Attributes:
        value: the correlation (Spearman's rho or Pearson's r); NaN if undefined.
        low: lower bound of the 95% bootstrap confidence interval (percentile
            method); NaN when no generator was given (bootstrap disabled).
        high: upper bound of the same interval.
        n: number of items (pairs or words) the score is computed on.
        method: ``"spearman"`` or ``"pearson"``.
    """

    value: float
    low: float
    high: float
    n: int
    method: str


# --------------------------------------------------------------------------- statistics


def pearson_statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson's r along ``axis``, vectorised over all other (broadcast) axes.

    Slices that are constant in ``x`` or ``y`` give NaN (r is undefined).
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, -1)
    y = np.moveaxis(np.asarray(y, dtype=np.float64), axis, -1)
    x, y = np.broadcast_arrays(x, y)
    constant = (x == x[..., :1]).all(axis=-1) | (y == y[..., :1]).all(axis=-1)
    xm = x - x.mean(axis=-1, keepdims=True)
    ym = y - y.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xm * ym).sum(axis=-1) / np.sqrt((xm * xm).sum(axis=-1) * (ym * ym).sum(axis=-1))
    r = np.clip(r, -1.0, 1.0)
    return np.where(constant, np.nan, r)


def spearman_statistic(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Spearman's rho along ``axis``: average ranks (ties shared), then Pearson."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return pearson_statistic(stats.rankdata(x, axis=axis), stats.rankdata(y, axis=axis), axis)


#: The correlation statistics by name, the one registry (scores and paired differences).
STATISTICS: dict[str, Callable[..., np.ndarray]] = {
    "spearman": spearman_statistic,
    "pearson": pearson_statistic,
}


def resolve_rng(rng: RngLike) -> np.random.Generator | None:
    if rng is None or isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise InputError(f"rng must be a numpy Generator, an integer seed or None, got {rng!r}")


def bootstrap_ci(
    statistic: Callable[..., np.ndarray],
    data: tuple[np.ndarray, ...],
    *,
    rng: np.random.Generator | int,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    batch: int | None = 100,
) -> tuple[float | np.ndarray, float | np.ndarray]:
    """Percentile bootstrap CI via :func:`scipy.stats.bootstrap` (paired resampling).

    Args:
        statistic: vectorised statistic ``statistic(*samples, axis=-1)``, e.g.
            :func:`spearman_statistic`.
        data: paired samples; items lie along the *last* axis, which must have
            the same length in every sample.  Leading axes (e.g. layers) are
            resampled with the same item indices.
        rng: seeded generator (or integer seed); the CI is reproducible given it.
        n_resamples: number of bootstrap resamples.
        confidence: confidence level of the two-sided interval.
        batch: resamples evaluated per call of ``statistic`` (bounds memory).

    Returns:
        ``(low, high)``, floats for a scalar statistic, otherwise arrays shaped
        like the statistic without the item axis.  A bound is NaN when some
        resamples have an undefined statistic (degenerate data).
    """
    generator = resolve_rng(rng)
    if generator is None:
        raise InputError("bootstrap_ci needs a numpy Generator or an integer seed")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)):
        raise InputError(f"n_resamples must be an integer, got {n_resamples!r}")
    if n_resamples < 1:
        raise InputError(f"n_resamples must be at least 1, got {n_resamples}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    samples = tuple(np.asarray(sample) for sample in data)
    if not samples:
        raise InputError("data must contain at least one sample")
    lengths = {sample.shape[-1] if sample.ndim else 0 for sample in samples}
    if len(lengths) != 1:
        raise InputError(f"paired samples must have the same length, got {sorted(lengths)}")
    if lengths.pop() < 2:
        raise InputError("bootstrap needs at least two items per sample")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        result = stats.bootstrap(
            samples,
            statistic,
            n_resamples=int(n_resamples),
            batch=batch,
            vectorized=True,
            paired=True,
            axis=-1,
            confidence_level=confidence,
            method="percentile",
            rng=generator,
        )
    low = np.asarray(result.confidence_interval.low, dtype=np.float64)
    high = np.asarray(result.confidence_interval.high, dtype=np.float64)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def _check_target(target: object, name: str, n: int) -> np.ndarray:
    arr = np.asarray(target, dtype=np.float64) if _is_numeric(target) else None
    if arr is None or arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D numeric array")
    if arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} entries but there are {n} items")
    if not np.isfinite(arr).all():
        first = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise InputError(f"{name} contains NaN or infinite values (first at index {first})")
    if np.all(arr == arr[0]):
        raise InputError(f"{name} is constant; a correlation with it is undefined")
    return arr


def _is_numeric(value: object) -> bool:
    try:
        arr = np.asarray(value)
    except Exception:
        return False
    return arr.dtype != object and (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    )


class _TieGroups:
    """Sort order of values along the last axis and the tie group of each sorted slot."""

    def __init__(self, values: np.ndarray) -> None:
        self.order = np.argsort(values, axis=-1, kind="stable")
        ordered = np.take_along_axis(values, self.order, axis=-1)
        n = values.shape[-1]
        slots = np.broadcast_to(np.arange(n), values.shape)
        new_group = np.ones(values.shape, dtype=bool)
        new_group[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
        # first and last slot of the tie group each sorted slot belongs to
        self.start = np.maximum.accumulate(np.where(new_group, slots, 0), axis=-1)
        last = np.ones(values.shape, dtype=bool)
        last[..., :-1] = new_group[..., 1:]
        self.end = np.flip(
            np.minimum.accumulate(np.flip(np.where(last, slots, n - 1), axis=-1), axis=-1),
            axis=-1,
        )
        self.has_ties = not bool(new_group.all())

    def rows(self, index: slice) -> _TieGroups:
        """The groups of the rows ``index`` of a 2-D ``[L, n]`` input (``has_ties`` stays
        that of every row, so each row is ranked the same way as with all of them)."""
        part = object.__new__(_TieGroups)
        part.order, part.start, part.end = self.order[index], self.start[index], self.end[index]
        part.has_ties = self.has_ties
        return part


def _weighted_ranks(w_sorted: np.ndarray, groups: _TieGroups) -> np.ndarray:
    """Average ranks of items in sorted order, each item repeated ``w`` times.

    ``w_sorted[..., s]`` is the multiplicity in the resample of the item in
    sorted slot ``s``.  The rank of a tie group is the mean of the positions
    its copies occupy: (copies strictly below + 1 + copies up to its end) / 2.
    """
    below_or_equal = np.cumsum(w_sorted, axis=-1)
    if not groups.has_ties:
        return below_or_equal - (w_sorted - 1) / 2.0
    shape = np.broadcast_shapes(below_or_equal.shape, groups.start.shape)
    start = np.broadcast_to(groups.start, shape)
    end = np.broadcast_to(groups.end, shape)
    upto_end = np.take_along_axis(below_or_equal, end, axis=-1)
    below_start = np.take_along_axis(below_or_equal - w_sorted, start, axis=-1)
    return (below_start + 1 + upto_end) / 2.0


def _resampled_statistic(
    per_layer: np.ndarray, target: np.ndarray, method: str
) -> Callable[..., np.ndarray]:
    """Statistic of resampled item indices ``i`` ([B, n]) -> [L, B] correlations.

    The bootstrap resamples item indices (what ``paired=True`` does inside
    scipy).  A resample is summarised by the multiplicity ``w_j`` of every item
    ``j``; the correlation over the resample equals the ``w``-weighted
    correlation over the original items.  For Spearman the average ranks of a
    resample follow from cumulative sums of ``w`` in each layer's fixed sort
    order, so nothing is re-sorted per resample, and the target is ranked once
    per resample rather than once per layer.  A resample that is constant in
    either variable gives NaN.

    The layers are computed one after another, each as a ``[B, 1, n]`` block, so the
    working arrays are ``[B, n]``, not ``[B, L, n]``: a batch of resamples of a
    37-layer model's 3,500 word pairs holds 2.8 MB per array rather than 104 MB (every
    element is computed by the same operations either way; tested equal to the last bit).
    """
    n = target.shape[0]
    n_layers = per_layer.shape[0]
    if method == "spearman":
        x_groups, y_groups = _TieGroups(per_layer), _TieGroups(target)
        mean_rank = (n + 1) / 2.0  # the average ranks of any resample sum to n (n + 1) / 2

    def centred_target(w: np.ndarray) -> np.ndarray:
        """Centred y [B, n] of each resample (weights ``w`` [B, n])."""
        if method == "spearman":
            yc = np.empty_like(w)
            yc[:, y_groups.order] = _weighted_ranks(w[:, y_groups.order], y_groups) - mean_rank
            return yc
        return target - (w @ target)[:, None] / n

    def layer_statistic(w: np.ndarray, yc: np.ndarray, syy: np.ndarray, layer: int) -> np.ndarray:
        """Correlations [B] of one layer: weights ``w`` [B, n], centred y ``yc`` [B, n]."""
        one = slice(layer, layer + 1)
        if method == "spearman":
            order = x_groups.order[one]  # [1, n]: items in the layer's own sort order
            ws = w[:, order]  # [B, 1, n]
            xc = _weighted_ranks(ws, x_groups.rows(one)) - mean_rank
            y_aligned = yc[:, order]
        else:
            values = per_layer[one]  # [1, n]
            ws = np.broadcast_to(w[:, None, :], (w.shape[0], *values.shape))
            x_mean = np.einsum("bln,ln->bl", ws, values) / n
            xc = values - x_mean[..., None]
            y_aligned = yc[:, None, :]
        wx = ws * xc
        num = np.einsum("bln,bln->bl", wx, np.broadcast_to(y_aligned, wx.shape))
        sxx = np.einsum("bln,bln->bl", wx, xc)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = num / np.sqrt(sxx * syy)
        # centred ranks are exact (half-)integers, so constancy is an exact zero;
        # raw values need a tolerance for rounding in the weighted mean
        if method == "spearman":
            constant = (sxx == 0) | (syy == 0)
        else:
            scale_x = np.einsum("bln,ln->bl", ws, values * values)
            scale_y = (w @ (target * target))[:, None]
            constant = (sxx <= 1e-14 * scale_x) | (syy <= 1e-14 * scale_y)
        return np.clip(np.where(constant, np.nan, r), -1.0, 1.0)[:, 0]

    def statistic(i: np.ndarray, axis: int = -1) -> np.ndarray:
        i = np.moveaxis(np.asarray(i), axis, -1)
        rows = i.shape[0]
        flat = (i + (np.arange(rows) * n)[:, None]).ravel()
        w = np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)
        yc = centred_target(w)
        syy = np.einsum("bn,bn->b", w * yc, yc)[:, None]
        out = np.empty((n_layers, rows))
        for layer in range(n_layers):
            out[layer] = layer_statistic(w, yc, syy, layer)
        return out  # [L, B]

    return statistic


def correlation_scores(
    values: np.ndarray,
    target: object,
    *,
    method: str,
    target_name: str,
    rng: RngLike,
    n_resamples: int,
    memo: IntervalMemo | None = None,
) -> list[Score]:
    """Per-layer correlation of ``values`` ([n] or [n, L]) with ``target`` ([n]).

    ``method`` names a statistic of :data:`STATISTICS`. With a generator, each defined
    layer gets a percentile bootstrap interval over items, through ``memo`` when given
    (a run's :class:`~layerwise.store.memo.BootstrapMemo` reads a stored interval instead
    of resampling again; the numbers are the same either way).
    """
    columns = values[:, None] if values.ndim == 1 else values
    n = columns.shape[0]
    if n < 2:
        raise InputError(f"a correlation needs at least 2 items, got {n}")
    human = _check_target(target, target_name, n)
    generator = resolve_rng(rng)
    per_layer = columns.T  # [L, n]: items on the last axis
    value = STATISTICS[method](per_layer, human, axis=-1)
    low = np.full_like(value, np.nan)
    high = np.full_like(value, np.nan)
    defined = np.isfinite(value)
    if generator is not None and defined.any():
        compute = lambda: bootstrap_ci(  # noqa: E731
            _resampled_statistic(per_layer[defined], human, method),
            (np.arange(n),),
            rng=generator,
            n_resamples=n_resamples,
        )
        if memo is None:
            low[defined], high[defined] = compute()
        else:
            low[defined], high[defined] = memo.interval(
                f"bootstrap {method}",
                (per_layer[defined], human),
                {"n_resamples": int(n_resamples)},
                generator,
                compute,
            )
    return [
        Score(value=float(v), low=float(lo), high=float(hi), n=n, method=method)
        for v, lo, hi in zip(value, low, high, strict=True)
    ]


def best_layer(values: object) -> int | None:
    """The layer of Table 1's "Best" column: the index of the highest *defined* value of
    ``values`` (``[n_layers]``, layer 0 first), ties to the lowest layer; ``None`` when
    every value is undefined (NaN). Raises :class:`~layerwise.errors.InputError` for an
    empty or non-1-D input. The one rule every table and chapter uses (paper Table 1)."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(
            f"best_layer needs a non-empty 1-D array of per-layer values, got {arr.shape}"
        )
    if np.isnan(arr).all():
        return None
    return int(np.nanargmax(arr))
