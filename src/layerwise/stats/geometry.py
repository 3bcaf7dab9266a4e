"""Embedding geometry: self-similarity (anisotropy) and top-k magnitude share.

Estimators (book chapter: ``notebooks/03_anisotropy.ipynb``)
------------------------------------------------------------
Arrays are ``[n, d]`` (one layer) or ``[n, L, d]`` (all layers, layer axis 1);
every estimator returns a float for ``[n, d]`` and an array of length ``L`` for
``[n, L, d]``.  Arithmetic is done in float64, one layer at a time, so a
10,000 x 13 x 768 float32 input never gets a full float64 copy.

* **Self-similarity** (Wolfe & Caliskan 2022, Eq. 1, after Ethayarajh 2019):
  the mean cosine over all ordered pairs ``i != j`` of the ``n`` vectors,
  ``s = 1/(n^2 - n) * sum_i sum_{j != i} cos(w_i, w_j)``.
  With unit vectors ``u_i = w_i / |w_i|`` the double sum equals
  ``|sum_i u_i|^2 - n``, so :func:`self_similarity` computes
  ``s = (|sum_i u_i|^2 - n) / (n^2 - n)`` exactly in ``O(n d)`` time and memory.
  :func:`self_similarity_pairwise` is the naive ``O(n^2)`` reference (full
  cosine matrix, mean of its off-diagonal entries), kept for tests and teaching.
* **Top-k share, paper definition** (Section 4.1, "mean proportion of magnitude
  contained in the top k neuron activations"): for each embedding ``x``, the
  Euclidean norm of ``x`` restricted to its ``k`` dimensions of largest
  ``|x_i|``, divided by ``|x|``; then the mean of these ratios over embeddings
  (a mean of ratios).  :func:`top_k_share`.
* **Top-k share, authors' script variant** (methodology note 1): for each
  embedding take the ``k`` largest *signed* values (not the largest ``|x_i|``)
  and their norm; the result is the mean of those norms divided by the mean of
  the full vector norms (a ratio of means).  :func:`top_k_share_script`.  It is
  not what the paper's text describes; the book reports both.
* **Row-wise cosine** of paired arrays: :func:`cosine_rows`.

A cosine with a zero vector is undefined. By default (``zero_rows="raise"``) such input
raises :class:`~layerwise.errors.InputError` naming the offending row (and layer), so a
caller that passes arrays gets a strict result or an error. With ``zero_rows="nan"`` the
values that need a zero vector are undefined (NaN) and everything else is computed as
before: a row-wise cosine of a pair with a zero row, and a per-layer estimate (the
self-similarity, the paper's top-k share) of a layer with a zero row, since the mean over
all vectors (or pairs) includes the undefined terms; zero rows are never dropped.
:func:`find_zero_rows` says where they are (the measurements name them:
:mod:`layerwise.measure.undefined`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..errors import InputError

__all__ = [
    "ZERO_ROWS",
    "cosine_rows",
    "find_zero_rows",
    "self_similarity",
    "self_similarity_pairwise",
    "top_k_share",
    "top_k_share_script",
]


#: What an estimator does with a zero row, whose cosine with any vector is undefined:
#: ``"raise"`` an :class:`~layerwise.errors.InputError` (the default), or make the values
#: that need it ``"nan"``.
ZERO_ROWS = ("raise", "nan")


# --------------------------------------------------------------------------- validation


def as_embeddings(x: object, name: str = "x", *, min_rows: int = 2) -> np.ndarray:
    """Validate an ``[n, d]`` or ``[n, L, d]`` array (not copied to float64 here)."""
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise InputError(f"{name} could not be converted to an array: {exc}") from exc
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise InputError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise InputError(
            f"{name} must have shape [n, d] or [n, L, d], got {arr.ndim}-D shape {arr.shape}"
        )
    if arr.shape[0] < min_rows:
        raise InputError(f"{name} needs at least {min_rows} rows, got {arr.shape[0]}")
    if any(size == 0 for size in arr.shape[1:]):
        raise InputError(f"{name} has an empty layer or feature axis: shape {arr.shape}")
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InputError(f"{name} contains NaN or infinite values (first at index {tuple(bad)})")
    return arr


def iter_layers(arr: np.ndarray) -> Iterator[tuple[int | None, np.ndarray]]:
    """Yield ``(layer, float64 [n, d] slice)``; layer is None for 2-D input."""
    if arr.ndim == 2:
        yield None, np.asarray(arr, dtype=np.float64)
    else:
        for layer in range(arr.shape[1]):
            yield layer, np.asarray(arr[:, layer, :], dtype=np.float64)


def _where(layer: int | None) -> str:
    return "" if layer is None else f" in layer {layer}"


def check_zero_rows(zero_rows: object) -> str:
    """``zero_rows`` if it is one of :data:`ZERO_ROWS`, else an InputError listing them."""
    if not isinstance(zero_rows, str) or zero_rows not in ZERO_ROWS:
        raise InputError(f"zero_rows must be one of {ZERO_ROWS}, got {zero_rows!r}")
    return zero_rows


def _norms(x: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", x, x))


def find_zero_rows(x: object) -> np.ndarray:
    """Rows of an ``[n, d]`` array whose Euclidean norm, computed in float64 as the
    estimators compute it, is exactly 0 (a row whose squared norm underflows counts too):
    the rows whose cosine with any vector is undefined, int64 indices ``[k]``, ascending
    (empty when there are none). Raises :class:`~layerwise.errors.InputError` for input that
    is not a real ``[n, d]`` array."""
    arr = np.asarray(x)
    if arr.ndim != 2 or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise InputError(f"find_zero_rows needs a real [n, d] array, got {arr.dtype} {arr.shape}")
    return np.flatnonzero(_norms(np.asarray(arr, dtype=np.float64)) == 0)


def row_norms(
    x: np.ndarray, name: str, layer: int | None, *, zero_rows: str = "raise"
) -> np.ndarray:
    """Euclidean norms ``[n]`` of the rows of a float64 ``[n, d]`` array.

    A zero row raises :class:`~layerwise.errors.InputError` naming it (``zero_rows="raise"``,
    the default), or gets the norm NaN (``zero_rows="nan"``), so that whatever is divided
    by it (a unit vector, a cosine, a share of magnitude) is NaN.
    """
    norms = _norms(x)
    zero = np.flatnonzero(norms == 0)
    if zero.size and check_zero_rows(zero_rows) == "raise":
        raise InputError(
            f"{name} row {int(zero[0])}{_where(layer)} is a zero vector; "
            "its cosine with any vector is undefined"
        )
    if zero.size:
        norms[zero] = np.nan
    return norms


def unit_rows(
    x: np.ndarray, name: str, layer: int | None, *, zero_rows: str = "raise"
) -> np.ndarray:
    """The rows of a float64 ``[n, d]`` array divided by their norms (:func:`row_norms`):
    a zero row raises, or becomes a row of NaN with ``zero_rows="nan"``."""
    return x / row_norms(x, name, layer, zero_rows=zero_rows)[:, None]


def per_layer_result(values: list[float], arr: np.ndarray) -> float | np.ndarray:
    return float(values[0]) if arr.ndim == 2 else np.asarray(values, dtype=np.float64)


def _check_k(k: object, d: int) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise InputError(f"k must be an integer, got {k!r}")
    if not 1 <= int(k) <= d:
        raise InputError(f"k must satisfy 1 <= k <= d = {d}, got {k}")
    return int(k)


# --------------------------------------------------------------------------- estimators


def self_similarity(x: np.ndarray, *, zero_rows: str = "raise") -> float | np.ndarray:
    """Mean cosine over ordered pairs ``i != j`` (Eq. 1), exact in ``O(n d)``.

    ``s = (|sum_i u_i|^2 - n) / (n^2 - n)`` with ``u_i`` the unit-normalised rows.

    Args:
        x: ``[n, d]`` or ``[n, L, d]`` embeddings, ``n >= 2``.
        zero_rows: a zero row (its cosines are undefined) raises
            :class:`~layerwise.errors.InputError` (``"raise"``, the default) or makes its
            layer's value NaN (``"nan"``: the mean over all pairs needs its cosines).

    Returns:
        A float for ``[n, d]``; a float64 array ``[L]`` for ``[n, L, d]``.
    """
    arr = as_embeddings(x, "x")
    zero_rows = check_zero_rows(zero_rows)
    n = arr.shape[0]
    values = []
    for layer, xl in iter_layers(arr):
        total = unit_rows(xl, "x", layer, zero_rows=zero_rows).sum(axis=0)
        values.append((float(total @ total) - n) / (n * n - n))
    return per_layer_result(values, arr)


def self_similarity_pairwise(x: np.ndarray, *, zero_rows: str = "raise") -> float | np.ndarray:
    """Naive ``O(n^2)`` reference for :func:`self_similarity` (same arguments and result).

    Builds the full ``n x n`` cosine matrix and averages its off-diagonal
    entries.  Use only for small ``n`` (tests, teaching).
    """
    arr = as_embeddings(x, "x")
    zero_rows = check_zero_rows(zero_rows)
    n = arr.shape[0]
    values = []
    for layer, xl in iter_layers(arr):
        unit = unit_rows(xl, "x", layer, zero_rows=zero_rows)
        cos = unit @ unit.T
        off_diagonal = ~np.eye(n, dtype=bool)
        values.append(float(cos[off_diagonal].mean()))
    return per_layer_result(values, arr)


def top_k_share(x: np.ndarray, k: int, *, zero_rows: str = "raise") -> float | np.ndarray:
    """Paper's top-k share: mean over embeddings of ``|x_topk| / |x|``.

    ``x_topk`` keeps the ``k`` dimensions of largest absolute value.

    Args:
        x: ``[n, d]`` or ``[n, L, d]`` embeddings.
        k: number of dimensions kept, ``1 <= k <= d`` (the paper uses 5 and 8).
        zero_rows: a zero row (its share ``0 / 0`` is undefined) raises
            :class:`~layerwise.errors.InputError` (``"raise"``, the default) or makes its
            layer's mean NaN (``"nan"``).

    Returns:
        A float for ``[n, d]``; a float64 array ``[L]`` for ``[n, L, d]``.
    """
    arr = as_embeddings(x, "x", min_rows=1)
    d = arr.shape[-1]
    k = _check_k(k, d)
    zero_rows = check_zero_rows(zero_rows)
    values = []
    for layer, xl in iter_layers(arr):
        norms = row_norms(xl, "x", layer, zero_rows=zero_rows)
        squares = xl * xl
        top = np.partition(squares, d - k, axis=1)[:, d - k :].sum(axis=1)
        values.append(float(np.mean(np.sqrt(top) / norms)))
    return per_layer_result(values, arr)


def top_k_share_script(x: np.ndarray, k: int, *, zero_rows: str = "raise") -> float | np.ndarray:
    """The authors' script variant of the top-k share (methodology note 1).

    Not the paper's definition (see :func:`top_k_share`): per embedding take the
    ``k`` largest *signed* values and their Euclidean norm; the result is
    ``mean(norm of those k values) / mean(norm of the full vectors)``, a ratio
    of means rather than a mean of ratios.

    Args:
        x: ``[n, d]`` or ``[n, L, d]`` embeddings (individual zero rows are
            allowed: they add 0 to both means).
        k: number of values kept, ``1 <= k <= d``.
        zero_rows: a layer of zero vectors only (its ratio ``0 / 0`` is undefined)
            raises :class:`~layerwise.errors.InputError` (``"raise"``, the default) or is
            NaN (``"nan"``).

    Returns:
        A float for ``[n, d]``; a float64 array ``[L]`` for ``[n, L, d]``.
    """
    arr = as_embeddings(x, "x", min_rows=1)
    d = arr.shape[-1]
    k = _check_k(k, d)
    zero_rows = check_zero_rows(zero_rows)
    values = []
    for layer, xl in iter_layers(arr):
        mean_norm = float(np.mean(np.sqrt(np.einsum("ij,ij->i", xl, xl))))
        if mean_norm == 0 and zero_rows == "nan":
            values.append(float("nan"))
            continue
        if mean_norm == 0:
            raise InputError(f"x{_where(layer)} has only zero vectors; the share is undefined")
        top = np.partition(xl, d - k, axis=1)[:, d - k :]
        top_norm = float(np.mean(np.sqrt(np.einsum("ij,ij->i", top, top))))
        values.append(top_norm / mean_norm)
    return per_layer_result(values, arr)


def cosine_rows(a: np.ndarray, b: np.ndarray, *, zero_rows: str = "raise") -> np.ndarray:
    """Row-wise cosine of paired embeddings.

    Identical rows give exactly 1.0 (no floating-point noise), so tied inputs
    stay tied for rank statistics.

    Args:
        a, b: arrays of the same shape, ``[n, d]`` or ``[n, L, d]``.
        zero_rows: a zero row in ``a`` or ``b`` raises
            :class:`~layerwise.errors.InputError` (``"raise"``, the default) or makes the
            cosine of its pair in that layer NaN (``"nan"``; two zero rows too).

    Returns:
        float64 ``[n]`` for ``[n, d]`` input, ``[n, L]`` for ``[n, L, d]``.
    """
    arr_a = as_embeddings(a, "a", min_rows=1)
    arr_b = as_embeddings(b, "b", min_rows=1)
    if arr_a.shape != arr_b.shape:
        raise InputError(f"a and b must have the same shape, got {arr_a.shape} and {arr_b.shape}")
    zero_rows = check_zero_rows(zero_rows)
    columns = []
    for (layer, la), (_, lb) in zip(iter_layers(arr_a), iter_layers(arr_b), strict=True):
        na = row_norms(la, "a", layer, zero_rows=zero_rows)
        nb = row_norms(lb, "b", layer, zero_rows=zero_rows)
        cos = np.clip(np.einsum("ij,ij->i", la, lb) / (na * nb), -1.0, 1.0)
        # identical rows get exactly 1, not 1 +- rounding noise that a rank
        # statistic would then order (e.g. EOS vectors of equal-length inputs);
        # two zero rows are identical too, and their cosine stays undefined
        cos[(la == lb).all(axis=1) & ~np.isnan(cos)] = 1.0
        columns.append(cos)
    return columns[0] if arr_a.ndim == 2 else np.stack(columns, axis=1)
