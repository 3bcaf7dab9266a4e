"""Known-answer tests for layerwise.postprocess (centering, standardization, ABTT)."""

from __future__ import annotations

import numpy as np
import pytest

from layerwise.errors import InputError
from layerwise.stats.postprocess import METHODS, Postprocessor, abtt_components, top_directions


def planted(seed: int = 0, n: int = 3000, d: int = 20):
    """Small isotropic noise plus large variance along two orthonormal directions."""
    rng = np.random.default_rng(seed)
    p, _ = np.linalg.qr(rng.normal(size=(d, 2)))
    coeff = rng.normal(size=(n, 2)) * np.array([30.0, 15.0])
    x = coeff @ p.T + 0.1 * rng.normal(size=(n, d)) + 5.0
    return x, p.T


def test_abtt_components_follow_d_over_100():
    assert [abtt_components(d) for d in (64, 384, 576, 768, 1024)] == [1, 4, 6, 8, 10]


def test_abtt_removes_exactly_the_planted_directions():
    x, p = planted()
    pp = Postprocessor.fit(x, n_components=2)
    # the fitted directions span the planted plane
    overlap = pp.components[0] @ p.T
    np.testing.assert_allclose(np.linalg.svd(overlap, compute_uv=False), [1.0, 1.0], atol=1e-4)
    out = pp.transform(x[:, None, :], "abtt")[:, 0].astype(np.float64)
    # nothing is left along the fitted directions, hardly anything along the planted ones
    assert np.abs(out @ pp.components[0].T).max() < 1e-3
    assert np.abs(out @ p.T).std() < 0.2
    # the rest (the noise) is kept: what remains has the noise's scale
    assert out.std() == pytest.approx(0.1, rel=0.1)


def test_top_directions_are_the_leading_right_singular_vectors():
    rng = np.random.default_rng(3)
    # distinct variances along a random rotation, so the top directions are well defined
    q, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    x = (rng.standard_normal((500, 40)) * np.linspace(6.0, 0.5, 40)) @ q.T
    x -= x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    top = top_directions(x, 5)
    assert top.shape == (5, 40)
    np.testing.assert_allclose(np.linalg.norm(top, axis=1), 1.0, atol=1e-12)
    # same directions up to sign, largest variance first
    np.testing.assert_allclose(np.abs(np.sum(top * vt[:5], axis=1)), 1.0, atol=1e-9)


def test_centering_and_standardization_by_hand():
    x = np.array([[1.0, 10.0, 7.0], [3.0, 14.0, 7.0], [5.0, 18.0, 7.0], [7.0, 22.0, 7.0]])
    pp = Postprocessor.fit(x, n_components=1)
    c = pp.transform(x[:, None], "centered")[:, 0]
    np.testing.assert_allclose(c[:, 0], [-3, -1, 1, 3])
    np.testing.assert_allclose(c[:, 1], [-6, -2, 2, 6])
    z = pp.transform(x[:, None], "standardized")[:, 0]
    sd = np.sqrt(5.0)  # population SD of (-3, -1, 1, 3)
    np.testing.assert_allclose(z[:, 0], np.array([-3, -1, 1, 3]) / sd, rtol=1e-6)
    np.testing.assert_allclose(z[:, 1], np.array([-3, -1, 1, 3]) / sd, rtol=1e-6)
    np.testing.assert_allclose(z[:, 2], 0.0)  # a constant dimension is centred, not divided
    np.testing.assert_array_equal(pp.transform(x[:, None], "raw")[:, 0], x.astype(np.float32))


def test_fitted_per_layer_and_applied_to_other_vectors():
    rng = np.random.default_rng(0)
    sample = rng.normal(size=(200, 3, 8)) + np.arange(3)[None, :, None]
    pp = Postprocessor.fit(sample)
    other = rng.normal(size=(5, 3, 8))
    out = pp.transform(other, "centered")
    np.testing.assert_allclose(out, other - sample.mean(axis=0), rtol=1e-5, atol=1e-5)


def test_one_layer_fit_gives_that_layer_of_the_fit_of_all_layers():
    """Chapter 7 fits and applies the postprocessing one layer at a time: the same numbers,
    to the last bit, as the fit of every layer at once."""
    rng = np.random.default_rng(1)
    sample = rng.normal(size=(300, 3, 40)).astype(np.float32)
    other = rng.normal(size=(7, 3, 40)).astype(np.float32)
    full = Postprocessor.fit(sample, n_components=2)
    for layer in range(3):
        one = Postprocessor.fit(sample[:, layer], n_components=2)
        np.testing.assert_array_equal(one.mean[0], full.mean[layer])
        np.testing.assert_array_equal(one.std[0], full.std[layer])
        np.testing.assert_array_equal(one.components[0], full.components[layer])
        for method in METHODS:
            got = one.transform(other[:, layer], method)
            assert got.shape == (7, 40) and got.dtype == np.float32
            np.testing.assert_array_equal(got, full.transform(other, method)[:, layer])
    with pytest.raises(InputError, match="do not match"):
        full.transform(other[:, 0], "centered")  # one layer's states need a one-layer fit


def test_bad_input():
    pp = Postprocessor.fit(np.random.default_rng(0).normal(size=(30, 2, 4)), n_components=1)
    with pytest.raises(InputError, match="do not match"):
        pp.transform(np.ones((3, 2, 5)), "centered")
    with pytest.raises(InputError, match="unknown postprocessing"):
        pp.transform(np.ones((3, 2, 4)), "whitened")
    with pytest.raises(InputError):
        Postprocessor.fit(np.ones((30, 4)), n_components=4)
