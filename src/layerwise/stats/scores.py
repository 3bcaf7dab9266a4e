"""Intrinsic evaluation tasks, layer by layer: word similarity, ValNorm and STS.

Embeddings are ``[n, L, d]`` (layer axis 1) or ``[n, d]``; each task returns one
:class:`~layerwise.stats.correlation.Score` per layer.

* **Word similarity** (RG65, WS-353, SimLex-999, SimVerb-3500) --
  :func:`word_similarity_scores`: per layer, the cosine between the vectors of the two
  words of each pair, then Spearman's rho between those cosines and the human ratings
  (paper section 4.2; chapter 4, ``notebooks/04_word_tasks``).
* **STS Benchmark** -- :func:`sts_scores`: the same statistic on sentence vectors
  against the gold similarity (paper section 4.3; chapter 5, ``notebooks/05_sts``).
* **ValNorm** (Toney & Caliskan 2021) -- :func:`sc_weat_effect_sizes` gives, for each
  target word ``w`` and layer, the single-category WEAT effect size
  ``(mean_{a in A} cos(w, a) - mean_{b in B} cos(w, b)) / sd_{x in A u B} cos(w, x)``
  with ``A`` the pleasant and ``B`` the unpleasant attribute words and the *sample* SD
  (``ddof=1``) by default. :func:`valnorm_scores` reports Pearson's r between the effect
  sizes and the human valence ratings. With ``ddof=0`` (population SD) every effect size
  is multiplied by the same factor ``sqrt(n / (n - 1))`` (``n = |A| + |B|``), so
  Pearson's r is unchanged (methodology note 5).

Undefined results are NaN, not errors: a layer whose cosines (or effect sizes) are
constant has no correlation, and a word whose cosines to all attribute words are equal
has no effect size. Bad *input* (empty, mismatched lengths, NaN or infinite values,
constant human ratings) raises :class:`~layerwise.errors.InputError`; so does a zero
vector, unless the caller passes ``zero_rows="nan"``: then a cosine with a zero vector,
and an effect size that needs one, is NaN (see :mod:`layerwise.stats.geometry`). A
correlation over items of which some are undefined (NaN) is itself undefined: every
item counts, none is dropped (the NaN propagates, as scipy's ``nan_policy="propagate"``).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError
from .correlation import IntervalMemo, RngLike, Score, correlation_scores
from .geometry import as_embeddings, check_zero_rows, cosine_rows, iter_layers, row_norms

# Cosines lie in [-1, 1]; an SD of the attribute cosines below this is rounding
# noise (identical attribute vectors), and the effect size is undefined.
_SD_FLOOR = 1e-12

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
    chapter 5 for STS). Returns float64. NaN (an undefined value) stays NaN, never the
    value of a neighbour.
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
    undefined = np.isnan(arr)  # sorted last, where a NaN gap would join the run before
    if undefined.any():
        out[undefined] = np.nan
    return np.moveaxis(out, -1, axis)


def cosine_spearman(
    emb1: np.ndarray,
    emb2: np.ndarray,
    target: np.ndarray,
    target_name: str,
    rng: RngLike,
    n_resamples: int,
    memo: IntervalMemo | None = None,
    zero_rows: str = "raise",
) -> list[Score]:
    """Spearman's rho of per-pair cosines against ``target``, per layer, with its CI
    (:func:`scores_of_cosines` of :func:`~layerwise.stats.geometry.cosine_rows`)."""
    return scores_of_cosines(
        cosine_rows(emb1, emb2, zero_rows=zero_rows),
        target,
        target_name=target_name,
        rng=rng,
        n_resamples=n_resamples,
        memo=memo,
    )


def scores_of_cosines(
    cosines: np.ndarray,
    target: np.ndarray,
    *,
    target_name: str = "human",
    rng: RngLike = None,
    n_resamples: int = 1000,
    memo: IntervalMemo | None = None,
) -> list[Score]:
    """Spearman's rho of per-pair cosines against ``target``, per layer, with its CI.

    ``cosines``: ``[n_pairs]`` or ``[n_pairs, L]`` (float64, from
    :func:`~layerwise.stats.geometry.cosine_rows`, e.g. one layer at a time, stacked);
    ``target``: ``[n_pairs]`` (``target_name`` names it in errors). Cosines that differ only
    by rounding are ranked as ties (``snap_near_ties``), so a layer whose cosines are all
    equal up to rounding has an undefined (NaN) correlation; so has a layer with an
    undefined (NaN) cosine (no pair is dropped). The bootstrap resamples the
    pairs of every layer with the same indices (one call for all layers). Raises
    :class:`~layerwise.errors.InputError` as ``correlation.correlation_scores`` does.
    """
    cos = np.asarray(cosines)
    return correlation_scores(
        snap_near_ties(cos, axis=0, dtype=cos.dtype),
        target,
        method="spearman",
        target_name=target_name,
        rng=rng,
        n_resamples=n_resamples,
        memo=memo,
    )


def word_similarity_scores(
    emb1: np.ndarray,
    emb2: np.ndarray,
    human: np.ndarray,
    *,
    rng: RngLike = None,
    n_resamples: int = 1000,
    memo: IntervalMemo | None = None,
    zero_rows: str = "raise",
) -> list[Score]:
    """Spearman's rho between per-pair cosines and human ratings, per layer.

    Args:
        emb1, emb2: vectors of the first and second word of each pair,
            ``[n_pairs, L, d]`` (or ``[n_pairs, d]`` for one layer).
        human: human similarity ratings, ``[n_pairs]``.
        rng: generator or seed for the bootstrap CI over pairs; None: no CI.
        n_resamples: bootstrap resamples.
        memo: stores the intervals across runs (see :class:`.correlation.IntervalMemo`).
        zero_rows: a zero vector raises :class:`~layerwise.errors.InputError`
            (``"raise"``) or makes its pair's cosine, and so its layer's rho, NaN (``"nan"``).

    Returns:
        One :class:`~layerwise.stats.correlation.Score` per layer (a list of length 1 for
        2-D input).
    """
    return cosine_spearman(emb1, emb2, human, "human", rng, n_resamples, memo, zero_rows)


def sts_scores(
    emb1: np.ndarray,
    emb2: np.ndarray,
    gold: np.ndarray,
    *,
    rng: RngLike = None,
    n_resamples: int = 1000,
    memo: IntervalMemo | None = None,
    zero_rows: str = "raise",
) -> list[Score]:
    """STS Benchmark: Spearman's rho between sentence-pair cosines and gold scores.

    Same estimator (and arguments) as :func:`word_similarity_scores`, on sentence vectors
    ``[n_pairs, L, d]`` and gold similarities ``[n_pairs]``.
    """
    return cosine_spearman(emb1, emb2, gold, "gold", rng, n_resamples, memo, zero_rows)


def sc_weat_effect_sizes(
    targets: np.ndarray,
    pleasant: np.ndarray,
    unpleasant: np.ndarray,
    *,
    ddof: int = 1,
    warn: bool = True,
    zero_rows: str = "raise",
) -> np.ndarray:
    """Single-category WEAT effect size of every target word, per layer.

    ``(mean_a cos(w, a) - mean_b cos(w, b)) / sd_{x in A u B} cos(w, x)``.

    Args:
        targets: ``[n_w, L, d]`` (or ``[n_w, d]``) target-word vectors.
        pleasant: ``[n_a, L, d]`` (or ``[n_a, d]``) attribute set A.
        unpleasant: ``[n_b, L, d]`` (or ``[n_b, d]``) attribute set B.
        ddof: 1 for the sample SD (default, ValNorm), 0 for the population SD.
        warn: warn about undefined effect sizes here (a caller that computes one layer
            at a time passes False and calls :func:`warn_undefined` once on all layers).
        zero_rows: a zero vector raises :class:`~layerwise.errors.InputError`
            (``"raise"``, the default), or (``"nan"``) makes NaN the effect sizes that need
            it: a zero target's, and in a layer with a zero attribute vector every target's
            (each needs its cosine with every attribute word).

    Returns:
        float64 ``[n_w, L]`` (``[n_w]`` for 2-D input).  An effect size whose SD
        is zero (all cosines equal, up to rounding: SD <= 1e-12) is NaN, with
        a warning.
    """
    if ddof not in (0, 1) or isinstance(ddof, bool):
        raise InputError(f"ddof must be 0 or 1, got {ddof!r}")
    zero_rows = check_zero_rows(zero_rows)
    t = as_embeddings(targets, "targets", min_rows=1)
    a = as_embeddings(pleasant, "pleasant", min_rows=1)
    b = as_embeddings(unpleasant, "unpleasant", min_rows=1)
    if not (t.shape[1:] == a.shape[1:] == b.shape[1:]):
        raise InputError(
            "targets, pleasant and unpleasant must agree in all but the first axis, got "
            f"{t.shape}, {a.shape} and {b.shape}"
        )
    if a.shape[0] + b.shape[0] < 2:
        raise InputError("the attribute sets need at least two words in total")
    columns = []
    for (layer, tl), (_, al), (_, bl) in zip(
        iter_layers(t), iter_layers(a), iter_layers(b), strict=True
    ):
        ut = tl / row_norms(tl, "targets", layer, zero_rows=zero_rows)[:, None]
        ua = al / row_norms(al, "pleasant", layer, zero_rows=zero_rows)[:, None]
        ub = bl / row_norms(bl, "unpleasant", layer, zero_rows=zero_rows)[:, None]
        cos_a = ut @ ua.T
        cos_b = ut @ ub.T
        sd = np.concatenate([cos_a, cos_b], axis=1).std(axis=1, ddof=ddof)
        diff = cos_a.mean(axis=1) - cos_b.mean(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            columns.append(np.where(sd > _SD_FLOOR, diff / sd, np.nan))
    effect = columns[0] if t.ndim == 2 else np.stack(columns, axis=1)
    if warn:
        warn_undefined(effect, stacklevel=3)
    return effect


def warn_undefined(effect: np.ndarray, *, stacklevel: int = 2) -> None:
    """A :class:`RuntimeWarning` counting the undefined (NaN) SC-WEAT effect sizes of
    ``effect`` (any shape); nothing when all are defined."""
    if np.isnan(effect).any():
        warnings.warn(
            f"{int(np.isnan(effect).sum())} effect size(s) undefined (all cosines to the "
            "attribute words equal, or a zero vector); set to NaN",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


def valnorm_scores(
    targets: np.ndarray,
    pleasant: np.ndarray,
    unpleasant: np.ndarray,
    valence: np.ndarray,
    *,
    rng: RngLike = None,
    n_resamples: int = 1000,
    ddof: int = 1,
    memo: IntervalMemo | None = None,
    zero_rows: str = "raise",
) -> list[Score]:
    """ValNorm: Pearson's r between SC-WEAT effect sizes and human valence, per layer.

    Args:
        targets, pleasant, unpleasant: as in :func:`sc_weat_effect_sizes`.
        valence: human valence ratings of the targets, ``[n_w]``.
        rng: generator or seed for the bootstrap CI over words; None: no CI.
        n_resamples: bootstrap resamples.
        memo: stores the intervals across runs (see :class:`.correlation.IntervalMemo`).
        ddof: SD convention of the effect size (does not change r).
        zero_rows: as in :func:`sc_weat_effect_sizes`.

    Returns:
        One :class:`~layerwise.stats.correlation.Score` per layer; a layer with an undefined
        effect size scores NaN.
    """
    effect = sc_weat_effect_sizes(targets, pleasant, unpleasant, ddof=ddof, zero_rows=zero_rows)
    return scores_of_effect_sizes(effect, valence, rng=rng, n_resamples=n_resamples, memo=memo)


def scores_of_effect_sizes(
    effect: np.ndarray,
    valence: np.ndarray,
    *,
    rng: RngLike = None,
    n_resamples: int = 1000,
    memo: IntervalMemo | None = None,
) -> list[Score]:
    """ValNorm's score from SC-WEAT effect sizes: Pearson's r against the human valence,
    per layer, with its CI.

    ``effect``: ``[n_w]`` or ``[n_w, L]`` from :func:`sc_weat_effect_sizes` (e.g. one layer
    at a time, stacked); ``valence``: ``[n_w]``. A layer with an undefined effect size scores
    NaN. Raises :class:`~layerwise.errors.InputError` as
    ``correlation.correlation_scores`` does.
    """
    return correlation_scores(
        np.asarray(effect),
        valence,
        method="pearson",
        target_name="valence",
        rng=rng,
        n_resamples=n_resamples,
        memo=memo,
    )
