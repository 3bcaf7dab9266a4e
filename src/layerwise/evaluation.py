"""Intrinsic evaluation: word similarity, ValNorm and STS, layer by layer.

Estimators (book chapters: ``notebooks/04_word_tasks.ipynb`` for the word-level
tasks and ValNorm, ``notebooks/05_sts.ipynb`` for the STS Benchmark)
-------------------------------------------------------------------------------
Embeddings are ``[n, L, d]`` (layer axis 1) or ``[n, d]``; each task returns
one :class:`Score` per layer.

* **Word similarity** (RG65, WS-353, SimLex-999, SimVerb-3500) --
  :func:`word_similarity_scores`: per layer, the cosine between the vectors of
  the two words of each pair, then Spearman's rho between those cosines and the
  human ratings.
* **STS Benchmark** -- :func:`sts_scores`: the same statistic on sentence
  vectors against the gold similarity (it shares the word-similarity code).
* **ValNorm** (Toney & Caliskan 2021) -- :func:`sc_weat_effect_sizes` gives,
  for each target word ``w`` and layer, the single-category WEAT effect size
  ``(mean_{a in A} cos(w, a) - mean_{b in B} cos(w, b)) / sd_{x in A u B} cos(w, x)``
  with ``A`` the pleasant and ``B`` the unpleasant attribute words and the
  *sample* SD (``ddof=1``) by default.  :func:`valnorm_scores` reports Pearson's
  r between the effect sizes and the human valence ratings.  With ``ddof=0``
  (population SD) every effect size is multiplied by the same factor
  ``sqrt(n / (n - 1))`` (``n = |A| + |B|``), so Pearson's r is unchanged
  (methodology note 5).
* **Confidence intervals** -- :func:`bootstrap_ci`: a thin wrapper on
  :func:`scipy.stats.bootstrap` (paired resampling of items -- word pairs,
  words or sentence pairs --, percentile method, seeded ``numpy`` generator).
  All layers are resampled with the *same* item indices in one call.  The
  point estimates use :func:`spearman_statistic` / :func:`pearson_statistic`
  (rank along the last axis with :func:`scipy.stats.rankdata`, then Pearson
  along the last axis).  Inside the bootstrap a resample is represented by the
  multiplicity of each item, and its average ranks follow from cumulative
  counts in each layer's fixed sort order (no re-sorting per resample); the
  result is identical to re-ranking every resample, and 13 layers x 3,500
  pairs x 1,000 resamples take about a second.
* **Layer choice** -- :func:`best_layer` (highest score, ties to the lowest
  layer, as in Table 1's "Best" column) and :func:`top_layer` (the last layer,
  Table 1's "Top" column).

Undefined results are NaN, not errors: a layer whose cosines (or effect sizes)
are constant has no correlation, and a word whose cosines to all attribute
words are equal has no effect size.  Bad *input* (empty, mismatched lengths,
NaN or infinite values, zero vectors, constant human ratings) raises
:class:`~layerwise.errors.InputError`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from layerwise.errors import InputError
from layerwise.geometry import _as_embeddings, _layers, _row_norms, cosine_rows

__all__ = [
    "Score",
    "best_layer",
    "bootstrap_ci",
    "pearson_statistic",
    "sc_weat_effect_sizes",
    "snap_near_ties",
    "spearman_statistic",
    "sts_scores",
    "top_layer",
    "valnorm_scores",
    "word_similarity_scores",
]

RngLike = np.random.Generator | int | None

# Cosines lie in [-1, 1]; an SD of the attribute cosines below this is rounding
# noise (identical attribute vectors), and the effect size is undefined.
_SD_FLOOR = 1e-12


@dataclass(frozen=True)
class Score:
    """One correlation score.

    Attributes:
        value: the correlation (Spearman's rho or Pearson's r); NaN if undefined.
        low, high: 95% bootstrap confidence interval (percentile method); NaN
            when no generator was given (bootstrap disabled).
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


_STATISTICS: dict[str, Callable[..., np.ndarray]] = {
    "spearman": spearman_statistic,
    "pearson": pearson_statistic,
}


def _resolve_rng(rng: RngLike) -> np.random.Generator | None:
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
        ``(low, high)``: floats for a scalar statistic, otherwise arrays shaped
        like the statistic without the item axis.  A bound is NaN when some
        resamples have an undefined statistic (degenerate data).
    """
    generator = _resolve_rng(rng)
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


# --------------------------------------------------------------------------- scores


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
    """
    n = target.shape[0]
    if method == "spearman":
        x_groups, y_groups = _TieGroups(per_layer), _TieGroups(target)
        mean_rank = (n + 1) / 2.0  # the average ranks of any resample sum to n (n + 1) / 2

    def centred_pair(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weights [B, L, n], centred x [B, L, n] and centred y [B, n]."""
        if method == "spearman":
            yc = np.empty_like(w)
            yc[:, y_groups.order] = _weighted_ranks(w[:, y_groups.order], y_groups) - mean_rank
            ws = w[:, x_groups.order]  # items in each layer's own sort order
            xc = _weighted_ranks(ws, x_groups) - mean_rank
            return ws, xc, yc
        ws = np.broadcast_to(w[:, None, :], (w.shape[0], *per_layer.shape))
        x_mean = np.einsum("bln,ln->bl", ws, per_layer) / n
        xc = per_layer - x_mean[..., None]
        yc = target - (w @ target)[:, None] / n
        return ws, xc, yc

    def statistic(i: np.ndarray, axis: int = -1) -> np.ndarray:
        i = np.moveaxis(np.asarray(i), axis, -1)
        rows = i.shape[0]
        flat = (i + (np.arange(rows) * n)[:, None]).ravel()
        w = np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(np.float64)
        ws, xc, yc = centred_pair(w)
        y_aligned = yc[:, x_groups.order] if method == "spearman" else yc[:, None, :]
        wx = ws * xc
        num = np.einsum("bln,bln->bl", wx, np.broadcast_to(y_aligned, wx.shape))
        sxx = np.einsum("bln,bln->bl", wx, xc)
        syy = np.einsum("bn,bn->b", w * yc, yc)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = num / np.sqrt(sxx * syy)
        # centred ranks are exact (half-)integers, so constancy is an exact zero;
        # raw values need a tolerance for rounding in the weighted mean
        if method == "spearman":
            constant = (sxx == 0) | (syy == 0)
        else:
            scale_x = np.einsum("bln,ln->bl", ws, per_layer * per_layer)
            scale_y = (w @ (target * target))[:, None]
            constant = (sxx <= 1e-14 * scale_x) | (syy <= 1e-14 * scale_y)
        return np.clip(np.where(constant, np.nan, r), -1.0, 1.0).T  # [L, B]

    return statistic


def _correlation_scores(
    values: np.ndarray,
    target: object,
    *,
    method: str,
    target_name: str,
    rng: RngLike,
    n_resamples: int,
) -> list[Score]:
    """Per-layer correlation of ``values`` ([n] or [n, L]) with ``target`` ([n])."""
    columns = values[:, None] if values.ndim == 1 else values
    n = columns.shape[0]
    if n < 2:
        raise InputError(f"a correlation needs at least 2 items, got {n}")
    human = _check_target(target, target_name, n)
    generator = _resolve_rng(rng)
    per_layer = columns.T  # [L, n]: items on the last axis
    value = _STATISTICS[method](per_layer, human, axis=-1)
    low = np.full_like(value, np.nan)
    high = np.full_like(value, np.nan)
    defined = np.isfinite(value)
    if generator is not None and defined.any():
        from . import memo  # the run's cache, when one is active

        low[defined], high[defined] = memo.interval(
            f"bootstrap {method}",
            (per_layer[defined], human),
            {"n_resamples": int(n_resamples)},
            generator,
            lambda: bootstrap_ci(
                _resampled_statistic(per_layer[defined], human, method),
                (np.arange(n),),
                rng=generator,
                n_resamples=n_resamples,
            ),
        )
    return [
        Score(value=float(v), low=float(lo), high=float(hi), n=n, method=method)
        for v, lo, hi in zip(value, low, high, strict=True)
    ]


#: Neighbouring sorted cosines closer than this many units of the computing dtype's machine
#: epsilon are ties (see :func:`snap_near_ties`).
TIE_ULPS = 4


def snap_near_ties(
    values: np.ndarray,
    *,
    axis: int = -1,
    dtype: np.dtype | type | None = None,
    ulps: float = TIE_ULPS,
) -> np.ndarray:
    """Make values that differ only by rounding exactly equal, so ranks treat them as ties.

    Along ``axis``, the values are sorted, and each run of neighbours whose gaps are at most
    ``ulps * eps * max(1, |value|)`` is set to the run's smallest value (``eps`` is the
    machine epsilon of ``dtype``, by default the dtype of ``values``: the precision the
    values were computed in). Cosines lie in [-1, 1] and their rounding error is absolute
    (a dot product cancels), so for cosines computed in float64 the tolerance is 4 x
    2.2e-16: far below any real difference between two pairs (with thousands of pairs in
    [-1, 1], typical gaps are 1e-4), but above the error of computing one cosine two ways.
    Applied to the cosines before Spearman's rho (chapter 4, ``notebooks/04_word_tasks``;
    chapter 5 for STS). Returns float64.
    """
    arr = np.moveaxis(np.asarray(values, dtype=np.float64), axis, -1)
    n = arr.shape[-1]
    if n < 2:
        return np.moveaxis(arr.copy(), -1, axis)
    kind = np.dtype(dtype) if dtype is not None else np.asarray(values).dtype
    eps = np.finfo(kind if np.issubdtype(kind, np.floating) else np.float64).eps
    order = np.argsort(arr, axis=-1, kind="stable")
    ordered = np.take_along_axis(arr, order, axis=-1)
    scale = np.maximum(1.0, np.maximum(np.abs(ordered[..., 1:]), np.abs(ordered[..., :-1])))
    starts = np.ones(arr.shape, dtype=bool)
    starts[..., 1:] = np.diff(ordered, axis=-1) > ulps * eps * scale
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0), axis=-1)
    out = np.empty_like(arr)
    np.put_along_axis(out, order, np.take_along_axis(ordered, first, axis=-1), axis=-1)
    return np.moveaxis(out, -1, axis)


def _cosine_spearman(
    emb1: np.ndarray,
    emb2: np.ndarray,
    target: np.ndarray,
    target_name: str,
    rng: RngLike,
    n_resamples: int,
) -> list[Score]:
    """Spearman's rho of per-pair cosines against ``target``, per layer, with its CI.

    Cosines that differ only by rounding are ranked as ties (:func:`snap_near_ties`), so a
    layer whose cosines are all equal up to rounding has an undefined (NaN) correlation.
    """
    cos = cosine_rows(emb1, emb2)
    return _correlation_scores(
        snap_near_ties(cos, axis=0, dtype=cos.dtype),
        target,
        method="spearman",
        target_name=target_name,
        rng=rng,
        n_resamples=n_resamples,
    )


def word_similarity_scores(
    emb1: np.ndarray,
    emb2: np.ndarray,
    human: np.ndarray,
    *,
    rng: RngLike = None,
    n_resamples: int = 1000,
) -> list[Score]:
    """Spearman's rho between per-pair cosines and human ratings, per layer.

    Args:
        emb1, emb2: vectors of the first and second word of each pair,
            ``[n_pairs, L, d]`` (or ``[n_pairs, d]`` for one layer).
        human: human similarity ratings, ``[n_pairs]``.
        rng: generator or seed for the bootstrap CI over pairs; None: no CI.
        n_resamples: bootstrap resamples.

    Returns:
        One :class:`Score` per layer (a list of length 1 for 2-D input).
    """
    return _cosine_spearman(emb1, emb2, human, "human", rng, n_resamples)


def sts_scores(
    emb1: np.ndarray,
    emb2: np.ndarray,
    gold: np.ndarray,
    *,
    rng: RngLike = None,
    n_resamples: int = 1000,
) -> list[Score]:
    """STS Benchmark: Spearman's rho between sentence-pair cosines and gold scores.

    Same estimator as :func:`word_similarity_scores`, on sentence vectors
    ``[n_pairs, L, d]`` and gold similarities ``[n_pairs]``.
    """
    return _cosine_spearman(emb1, emb2, gold, "gold", rng, n_resamples)


def sc_weat_effect_sizes(
    targets: np.ndarray,
    pleasant: np.ndarray,
    unpleasant: np.ndarray,
    *,
    ddof: int = 1,
) -> np.ndarray:
    """Single-category WEAT effect size of every target word, per layer.

    ``(mean_a cos(w, a) - mean_b cos(w, b)) / sd_{x in A u B} cos(w, x)``.

    Args:
        targets: ``[n_w, L, d]`` (or ``[n_w, d]``) target-word vectors.
        pleasant: ``[n_a, L, d]`` (or ``[n_a, d]``) attribute set A.
        unpleasant: ``[n_b, L, d]`` (or ``[n_b, d]``) attribute set B.
        ddof: 1 for the sample SD (default, ValNorm), 0 for the population SD.

    Returns:
        float64 ``[n_w, L]`` (``[n_w]`` for 2-D input).  An effect size whose SD
        is zero (all cosines equal, up to rounding: SD <= 1e-12) is NaN, with
        a warning.
    """
    if ddof not in (0, 1) or isinstance(ddof, bool):
        raise InputError(f"ddof must be 0 or 1, got {ddof!r}")
    t = _as_embeddings(targets, "targets", min_rows=1)
    a = _as_embeddings(pleasant, "pleasant", min_rows=1)
    b = _as_embeddings(unpleasant, "unpleasant", min_rows=1)
    if not (t.shape[1:] == a.shape[1:] == b.shape[1:]):
        raise InputError(
            "targets, pleasant and unpleasant must agree in all but the first axis, got "
            f"{t.shape}, {a.shape} and {b.shape}"
        )
    if a.shape[0] + b.shape[0] < 2:
        raise InputError("the attribute sets need at least two words in total")
    columns = []
    for (layer, tl), (_, al), (_, bl) in zip(_layers(t), _layers(a), _layers(b), strict=True):
        ut = tl / _row_norms(tl, "targets", layer)[:, None]
        ua = al / _row_norms(al, "pleasant", layer)[:, None]
        ub = bl / _row_norms(bl, "unpleasant", layer)[:, None]
        cos_a = ut @ ua.T
        cos_b = ut @ ub.T
        sd = np.concatenate([cos_a, cos_b], axis=1).std(axis=1, ddof=ddof)
        diff = cos_a.mean(axis=1) - cos_b.mean(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns.append(np.where(sd > _SD_FLOOR, diff / sd, np.nan))
    effect = columns[0] if t.ndim == 2 else np.stack(columns, axis=1)
    if np.isnan(effect).any():
        warnings.warn(
            f"{int(np.isnan(effect).sum())} effect size(s) undefined (all cosines to the "
            "attribute words equal); set to NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    return effect


def valnorm_scores(
    targets: np.ndarray,
    pleasant: np.ndarray,
    unpleasant: np.ndarray,
    valence: np.ndarray,
    *,
    rng: RngLike = None,
    n_resamples: int = 1000,
    ddof: int = 1,
) -> list[Score]:
    """ValNorm: Pearson's r between SC-WEAT effect sizes and human valence, per layer.

    Args:
        targets, pleasant, unpleasant: as in :func:`sc_weat_effect_sizes`.
        valence: human valence ratings of the targets, ``[n_w]``.
        rng: generator or seed for the bootstrap CI over words; None: no CI.
        n_resamples: bootstrap resamples.
        ddof: SD convention of the effect size (does not change r).

    Returns:
        One :class:`Score` per layer; a layer with an undefined effect size
        scores NaN.
    """
    effect = sc_weat_effect_sizes(targets, pleasant, unpleasant, ddof=ddof)
    return _correlation_scores(
        effect,
        valence,
        method="pearson",
        target_name="valence",
        rng=rng,
        n_resamples=n_resamples,
    )


# --------------------------------------------------------------------------- layer choice


def _check_scores(scores: Sequence[Score]) -> None:
    if len(scores) == 0:
        raise InputError("scores is empty")
    if not all(isinstance(score, Score) for score in scores):
        raise InputError("scores must be a sequence of Score objects")


def best_layer(scores: Sequence[Score]) -> tuple[int, Score]:
    """Layer with the highest score value (ties: the lowest layer; NaN ignored)."""
    _check_scores(scores)
    values = np.array([score.value for score in scores], dtype=np.float64)
    if np.isnan(values).all():
        raise InputError("every score is NaN; there is no best layer")
    index = int(np.nanargmax(values))
    return index, scores[index]


def top_layer(scores: Sequence[Score]) -> Score:
    """Score of the last (top) layer."""
    _check_scores(scores)
    return scores[-1]
