"""Isotropy beyond the mean cosine: IsoScore, uniformity, alignment, rogue dimensions.

Estimators (book chapter: ``notebooks/07_beyond.ipynb``)
--------------------------------------------------------
Arrays are ``[n, d]`` (one layer) or ``[n, L, d]`` (layer axis 1), as in
:mod:`layerwise.stats.geometry`; each estimator returns a float or one value per layer.

* **IsoScore** (Rudman et al. 2022) -- :func:`isoscore`: rotate the point cloud
  onto its principal axes, take the variance along each axis ``v`` (length
  ``d``), rescale it to norm ``sqrt(d)`` (``v_hat = sqrt(d) v / |v|``; an
  isotropic cloud gives the all-ones vector), measure the distance from
  isotropy ``delta = |v_hat - 1| / sqrt(2 (d - sqrt d))``, turn it into the
  fraction of dimensions used ``phi = (d - delta^2 (d - sqrt d))^2 / d^2`` and
  rescale to ``[0, 1]``: ``IsoScore = (d phi - 1) / (d - 1)``.  1 means every
  dimension is used equally, 0 that the cloud lies on one line.
* **Uniformity** (Wang & Isola 2020) -- :func:`uniformity`: with unit vectors,
  ``log mean_{i<j} exp(-2 |u_i - u_j|^2)``; lower is more uniform (-4 is the
  limit for points spread over a high-dimensional sphere; antipodal pairs give
  -8).  Computed exactly, block by block with a streaming log-sum-exp (never an
  ``n x n`` matrix), or on a seeded subsample of pairs (``n_pairs``).
* **Alignment** (Wang & Isola 2020) -- :func:`alignment`: mean ``|u - v|^2``
  over positive pairs of unit vectors (here STS-B pairs with gold >= 4); lower
  is better aligned.
* **Rogue dimensions** (Timkey & van Schijndel 2021) --
  :func:`cosine_contributions`: the expected cosine of two distinct vectors of
  the sample is ``sum_k C_k`` with ``C_k = mean_{i != j} u_ik u_jk``, the
  contribution of dimension ``k``; ``C_k = ((sum_i u_ik)^2 - sum_i u_ik^2) /
  (n^2 - n)`` exactly (so ``sum_k C_k`` is the self-similarity of
  :func:`layerwise.stats.geometry.self_similarity`).  :func:`rogue_shares` gives the
  share of the expected cosine held by the ``k`` largest contributions; it is
  undefined (NaN) when the expected cosine is not positive.

Uniformity, alignment and the cosine contributions use unit vectors: a zero row raises
:class:`~layerwise.errors.InputError` by default, or, with ``zero_rows="nan"``, makes
the values that need it NaN (see :mod:`layerwise.stats.geometry`). IsoScore uses no
directions, so a zero row is an ordinary point for it.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .geometry import as_embeddings, check_zero_rows, iter_layers, per_layer_result, unit_rows

__all__ = [
    "alignment",
    "cosine_contributions",
    "isoscore",
    "rogue_shares",
    "uniformity",
]


def _isoscore_layer(x: np.ndarray) -> float:
    n, d = x.shape
    if d < 2:
        raise InputError("IsoScore needs at least two dimensions")
    if (x == x[0]).all():
        return float("nan")  # identical points: no variance to spread, undefined
    centred = x - x.mean(axis=0, keepdims=True)
    # variances along the principal axes = eigenvalues of the covariance
    cov = centred.T @ centred / (n - 1)
    var = np.clip(np.linalg.eigvalsh(cov), 0.0, None)
    norm = float(np.linalg.norm(var))
    if norm == 0:
        return float("nan")
    v_hat = np.sqrt(d) * var / norm
    delta2 = float(np.sum((v_hat - 1.0) ** 2)) / (2 * (d - np.sqrt(d)))
    phi = (d - delta2 * (d - np.sqrt(d))) ** 2 / d**2
    return float((d * phi - 1) / (d - 1))


def isoscore(x: np.ndarray) -> float | np.ndarray:
    """IsoScore of a point cloud, per layer (1: isotropic; 0: one-dimensional).

    Undefined (NaN) for a layer whose points are all identical, e.g. the EOS state at
    layer 0 of a model without absolute position embeddings (chapter 5).
    """
    arr = as_embeddings(x, "x")
    return per_layer_result([_isoscore_layer(xl) for _, xl in iter_layers(arr)], arr)


def _logsumexp_pairs(u: np.ndarray, block: int) -> tuple[float, int]:
    """log sum_{i<j} exp(-2 |u_i - u_j|^2) and the number of pairs, block by block.

    For unit vectors the exponent ``-2 |u - v|^2 = 4 cos - 4`` lies in [-8, 0]: every term
    is between e^-8 and 1, so the terms are summed directly (nothing can overflow or
    underflow). The cosines and terms are float32, the precision the states are stored
    in (1.7x faster than float64; the logarithm moves by less than 1e-7), and each block's sum is
    accumulated in float64.
    """
    n = u.shape[0]
    u = u.astype(np.float32, copy=False)
    total = 0.0
    for start in range(0, n - 1, block):
        stop = min(start + block, n)
        terms = u[start:stop] @ u[start:].T  # rows against themselves and every later point
        terms *= 4.0
        terms -= 4.0
        np.exp(terms, out=terms)
        width = stop - start  # the square block on the diagonal: keep j > i only
        total += float(np.triu(terms[:, :width], k=1).sum(dtype=np.float64))
        total += float(terms[:, width:].sum(dtype=np.float64))
    return float(np.log(total)), n * (n - 1) // 2


def uniformity(
    x: np.ndarray,
    *,
    n_pairs: int | None = None,
    rng: np.random.Generator | int | None = None,
    block: int = 512,
    zero_rows: str = "raise",
) -> float | np.ndarray:
    """Wang & Isola's uniformity ``log mean_{i<j} exp(-2 |u_i - u_j|^2)``, per layer.

    Args:
        x: ``[n, d]`` or ``[n, L, d]`` embeddings.
        n_pairs: if given, the mean over this many pairs ``i != j`` drawn with
            ``rng`` (the same pairs at every layer) instead of all pairs.
        rng: generator or seed, required with ``n_pairs``.
        block: rows per block of the exact computation (memory ``block x n``).
        zero_rows: a zero row raises :class:`~layerwise.errors.InputError` (``"raise"``)
            or makes the layer's value NaN when a pair of the mean holds it (``"nan"``).

    Returns:
        A float for ``[n, d]``; a float64 array ``[L]`` for ``[n, L, d]``.
    """
    arr = as_embeddings(x, "x")
    zero_rows = check_zero_rows(zero_rows)
    n = arr.shape[0]
    pairs = None
    if n_pairs is not None:
        if rng is None or isinstance(n_pairs, bool) or int(n_pairs) < 1:
            raise InputError("a subsample of pairs needs n_pairs >= 1 and a seeded rng")
        gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
        i = gen.integers(0, n, size=int(n_pairs))
        j = (i + gen.integers(1, n, size=int(n_pairs))) % n  # j != i, uniform
        pairs = (i, j)
    values = []
    for layer, xl in iter_layers(arr):
        u = unit_rows(xl, "x", layer, zero_rows=zero_rows)
        if pairs is None:
            total, count = _logsumexp_pairs(u, block)
            values.append(total - np.log(count))
        else:
            exponent = 4.0 * np.einsum("ij,ij->i", u[pairs[0]], u[pairs[1]]) - 4.0
            top = float(exponent.max())
            values.append(top + float(np.log(np.mean(np.exp(exponent - top)))))
    return per_layer_result(values, arr)


def alignment(a: np.ndarray, b: np.ndarray, *, zero_rows: str = "raise") -> float | np.ndarray:
    """Wang & Isola's alignment: mean ``|u - v|^2`` over positive pairs of unit vectors.

    ``a``, ``b``: the pairs' vectors, the same shape ``[n, d]`` or ``[n, L, d]``. A zero row
    raises :class:`~layerwise.errors.InputError` (``zero_rows="raise"``) or makes its
    layer's mean NaN (``"nan"``). Returns a float, or a float64 array ``[L]``.
    """
    arr_a = as_embeddings(a, "a", min_rows=1)
    arr_b = as_embeddings(b, "b", min_rows=1)
    if arr_a.shape != arr_b.shape:
        raise InputError(f"a and b must have the same shape, got {arr_a.shape} and {arr_b.shape}")
    zero_rows = check_zero_rows(zero_rows)
    values = []
    for (layer, la), (_, lb) in zip(iter_layers(arr_a), iter_layers(arr_b), strict=True):
        diff = unit_rows(la, "a", layer, zero_rows=zero_rows) - unit_rows(
            lb, "b", layer, zero_rows=zero_rows
        )
        values.append(float(np.mean(np.einsum("ij,ij->i", diff, diff))))
    return per_layer_result(values, arr_a)


def cosine_contributions(x: np.ndarray, *, zero_rows: str = "raise") -> np.ndarray:
    """Each dimension's contribution to the expected cosine of two distinct vectors.

    Returns float64 ``[d]`` for ``[n, d]`` input, ``[L, d]`` for ``[n, L, d]``;
    each row sums to the self-similarity of that layer. A zero row raises
    :class:`~layerwise.errors.InputError` (``zero_rows="raise"``) or makes every
    contribution of its layer NaN (``"nan"``).
    """
    arr = as_embeddings(x, "x")
    zero_rows = check_zero_rows(zero_rows)
    n = arr.shape[0]
    rows = []
    for layer, xl in iter_layers(arr):
        u = unit_rows(xl, "x", layer, zero_rows=zero_rows)
        rows.append((u.sum(axis=0) ** 2 - (u * u).sum(axis=0)) / (n * n - n))
    return rows[0] if arr.ndim == 2 else np.stack(rows)


def rogue_shares(contributions: np.ndarray, ks: tuple[int, ...] = (1, 3, 10)) -> np.ndarray:
    """Share of the expected cosine held by the ``k`` largest contributions, per ``k``.

    ``contributions``: ``[d]`` or ``[L, d]`` from :func:`cosine_contributions`.
    Returns ``[len(ks)]`` or ``[L, len(ks)]``; NaN where the expected cosine is <= 0
    (the share of a non-positive total is undefined) or undefined (NaN contributions).
    """
    c = np.atleast_2d(np.asarray(contributions, dtype=np.float64))
    d = c.shape[1]
    for k in ks:
        if not 1 <= k <= d:
            raise InputError(f"k must satisfy 1 <= k <= d = {d}, got {k}")
    ordered = -np.sort(-c, axis=1)
    total = c.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = np.stack([ordered[:, :k].sum(axis=1) / total for k in ks], axis=1)
    shares[total <= 0] = np.nan
    return shares[0] if np.asarray(contributions).ndim == 1 else shares
