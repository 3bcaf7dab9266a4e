"""Postprocessing of hidden states: centering, standardization, all-but-the-top.

Estimators (book chapter: ``notebooks/07_beyond.ipynb``, section "Postprocessing")
---------------------------------------------------------------------------------
Each transform is *fitted* on one layer's CWE sample ``[n, d]`` and *applied* to
any vectors of the same layer (word vectors, sentence vectors, the CWEs
themselves), separately per layer:

* ``raw``: unchanged.
* ``centered``: subtract the sample mean ``mu``.
* ``standardized``: ``(x - mu) / sigma`` with ``sigma`` the per-dimension
  standard deviation of the sample (a dimension with ``sigma = 0`` is left
  centred, not divided).
* ``abtt`` -- all-but-the-top (Mu & Viswanath 2018): subtract ``mu``, then
  remove the projections on the top ``D`` principal directions of the centred
  sample, ``x' = (x - mu) - sum_k (u_k . (x - mu)) u_k``, with
  ``D = max(1, round(d / 100))`` as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from ..errors import InputError
from .geometry import as_embeddings

#: Postprocessing method names, each fitted per layer on a CWE sample by :class:`Postprocessor`.
METHODS = ("raw", "centered", "standardized", "abtt")


def abtt_components(d: int) -> int:
    """Principal directions all-but-the-top removes: ``max(1, round(d / 100))``."""
    return max(1, int(round(d / 100)))


def top_directions(centred: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` leading principal directions of a centred sample ``[n, d]``, as unit rows
    ``[k, d]``, largest variance first.

    They are the top eigenvectors of the ``d x d`` scatter matrix ``X^T X`` (the right
    singular vectors of ``X``), found with a partial symmetric eigensolver: for 10,000
    vectors of 768 dimensions about eight times faster than a full SVD of ``X``. The sign
    of each direction is arbitrary; all-but-the-top only uses the projection on it.
    """
    d = centred.shape[1]
    scatter = centred.T @ centred
    _, vectors = scipy.linalg.eigh(scatter, subset_by_index=[d - k, d - 1])
    return vectors[:, ::-1].T.copy()


@dataclass(frozen=True)
class Postprocessor:
    """Per-layer statistics of a CWE sample: mean, SD and top principal directions.

    ``mean`` and ``std`` are ``[L, d]``; ``components`` is ``[L, D, d]`` (unit rows).
    """

    mean: np.ndarray
    std: np.ndarray
    components: np.ndarray

    @classmethod
    def fit(cls, sample: np.ndarray, n_components: int | None = None) -> Postprocessor:
        """Fit on ``[n, L, d]`` (or ``[n, d]``, one layer) CWE states."""
        arr = as_embeddings(sample, "sample")
        arr = arr[:, None, :] if arr.ndim == 2 else arr
        d = arr.shape[-1]
        k = abtt_components(d) if n_components is None else int(n_components)
        if not 1 <= k < min(d, arr.shape[0]):
            raise InputError(f"n_components must lie in [1, {min(d, arr.shape[0]) - 1}], got {k}")
        means, stds, comps = [], [], []
        for layer in range(arr.shape[1]):
            x = np.asarray(arr[:, layer], dtype=np.float64)
            mu = x.mean(axis=0)
            centred = x - mu
            means.append(mu)
            stds.append(x.std(axis=0))
            comps.append(top_directions(centred, k))
        return cls(np.stack(means), np.stack(stds), np.stack(comps))

    def transform(self, x: np.ndarray, method: str) -> np.ndarray:
        """Apply ``method`` (one of :data:`METHODS`) to ``[n, L, d]`` states (or ``[n, d]``,
        one layer, after a one-layer fit); float32 of the same shape. Raises
        :class:`~layerwise.errors.InputError` for an unknown method or states whose layers
        and width are not the fitted ones."""
        if method not in METHODS:
            raise InputError(f"unknown postprocessing {method!r}; choose one of {METHODS}")
        arr = as_embeddings(x, "x", min_rows=1)
        one = arr.ndim == 2 and self.mean.shape[0] == 1
        if one:
            arr = arr[:, None, :]
        if arr.ndim != 3 or arr.shape[1:] != self.mean.shape:
            raise InputError(
                f"states of shape {np.shape(x)} do not match the fitted layers and width "
                f"{self.mean.shape}: fit on the same model's states"
            )
        if method == "raw":
            out = np.asarray(arr, dtype=np.float32)
            return out[:, 0] if one else out
        out = np.empty(arr.shape, dtype=np.float32)
        for layer in range(arr.shape[1]):
            y = np.asarray(arr[:, layer], dtype=np.float64) - self.mean[layer]
            if method == "standardized":
                sd = self.std[layer]
                y = np.divide(y, sd, out=y, where=sd > 0)
            elif method == "abtt":
                u = self.components[layer]
                y = y - (y @ u.T) @ u
            out[:, layer] = y
        return out[:, 0] if one else out
