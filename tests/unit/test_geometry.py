"""Tests for layerwise.geometry: answers known by hand or from the naive reference."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise.stats.geometry as stats_geometry
from layerwise.errors import InputError
from layerwise.stats.geometry import (
    cosine_rows,
    self_similarity,
    self_similarity_pairwise,
    top_k_share,
    top_k_share_script,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20220522)


# --------------------------------------------------------------------------- self-similarity


def test_self_similarity_matches_pairwise_2d(rng):
    x = (rng.standard_normal((300, 64)) + 0.3).astype(np.float32)  # anisotropic: s well above 0
    fast = self_similarity(x)
    assert isinstance(fast, float)
    assert fast == pytest.approx(self_similarity_pairwise(x), abs=1e-6)
    assert fast > 0.05


def test_self_similarity_matches_pairwise_3d(rng):
    offsets = np.array([0.0, 0.5, 2.0])[None, :, None]  # increasingly anisotropic layers
    x = (rng.standard_normal((120, 3, 32)) + offsets).astype(np.float32)
    fast = self_similarity(x)
    assert fast.shape == (3,)
    np.testing.assert_allclose(fast, self_similarity_pairwise(x), atol=1e-6)
    assert fast[0] < fast[1] < fast[2]
    for layer in range(3):
        assert fast[layer] == pytest.approx(self_similarity(x[:, layer, :]), abs=1e-12)


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        ([[1.0, 2.0], [1.0, 2.0]], 1.0),  # identical
        ([[1.0, 0.0], [0.0, 3.0]], 0.0),  # orthogonal
        ([[1.0, 2.0], [-1.0, -2.0]], -1.0),  # opposite
        (
            [
                [1.0, 0.0],
                [np.cos(2 * np.pi / 3), np.sin(2 * np.pi / 3)],
                [np.cos(4 * np.pi / 3), np.sin(4 * np.pi / 3)],
            ],
            -0.5,
        ),  # three vectors at 120 degrees
    ],
)
def test_self_similarity_hand_cases(x, expected):
    x = np.asarray(x)
    assert self_similarity(x) == pytest.approx(expected, abs=1e-12)
    assert self_similarity_pairwise(x) == pytest.approx(expected, abs=1e-12)


def test_self_similarity_ignores_norms():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    scaled = x * np.array([[10.0], [0.1], [3.0]])
    # pairs: cos(e1, e2) = 0, cos(e1, d) = cos(e2, d) = 1/sqrt(2); mean over 3 unordered pairs
    expected = (0 + 2 / np.sqrt(2)) / 3
    assert self_similarity(scaled) == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------------------- top-k share


def test_top_k_share_hand_example():
    assert top_k_share(np.array([[3.0, 4.0, 0.0, 0.0]]), 1) == pytest.approx(0.8)
    assert top_k_share(np.array([[3.0, 4.0, 0.0, 0.0]]), 2) == pytest.approx(1.0)


def test_top_k_share_paper_uses_absolute_values_script_uses_signed():
    x = np.array([[-4.0, 3.0, 0.0, 0.0]])
    assert top_k_share(x, 1) == pytest.approx(4 / 5)  # largest |x_i| is -4
    assert top_k_share_script(x, 1) == pytest.approx(3 / 5)  # largest signed value is 3
    negative = np.array([[-1.0, -2.0, -3.0, -4.0]])
    assert top_k_share(negative, 1) == pytest.approx(4 / np.sqrt(30))
    assert top_k_share_script(negative, 1) == pytest.approx(1 / np.sqrt(30))


def test_top_k_share_k_equals_d_is_one(rng):
    x = rng.standard_normal((20, 3, 16))
    np.testing.assert_allclose(top_k_share(x, 16), np.ones(3), atol=1e-12)


def test_top_k_share_is_mean_of_ratios():
    x = np.array([[3.0, 4.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])  # shares 0.8 and 1.0
    assert top_k_share(x, 1) == pytest.approx(0.9)


def test_top_k_share_script_is_ratio_of_means():
    # row norms 5 and 10; largest signed values 4 and 10
    x = np.array([[3.0, 4.0, 0.0, 0.0], [0.0, 0.0, 0.0, 10.0]])
    assert top_k_share_script(x, 1) == pytest.approx((4 + 10) / (5 + 10))
    assert top_k_share(x, 1) == pytest.approx((0.8 + 1.0) / 2)  # mean of ratios differs


def test_top_k_share_per_layer(rng):
    x = rng.standard_normal((30, 4, 10))
    x[:, 2, 0] += 50.0  # one dominant dimension in layer 2
    shares = top_k_share(x, 1)
    script = top_k_share_script(x, 1)
    assert shares.shape == script.shape == (4,)
    for layer in range(4):
        assert shares[layer] == pytest.approx(top_k_share(x[:, layer], 1), abs=1e-12)
        assert script[layer] == pytest.approx(top_k_share_script(x[:, layer], 1), abs=1e-12)
    assert shares[2] > 0.95 and shares[2] == shares.max()


@pytest.mark.parametrize("k", [0, 5, 1.5, True])
def test_top_k_share_rejects_bad_k(k):
    x = np.ones((3, 4))
    with pytest.raises(InputError):
        top_k_share(x, k)
    with pytest.raises(InputError):
        top_k_share_script(x, k)


# --------------------------------------------------------------------------- cosine_rows


def test_cosine_rows_hand_and_shape(rng):
    a = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]])
    b = np.array([[0.0, 1.0], [2.0, 2.0], [-3.0, 0.0]])
    np.testing.assert_allclose(cosine_rows(a, b), [0.0, 1.0, -1.0], atol=1e-12)
    a3 = rng.standard_normal((5, 3, 8)).astype(np.float32)
    b3 = rng.standard_normal((5, 3, 8)).astype(np.float32)
    cos = cosine_rows(a3, b3)
    assert cos.shape == (5, 3) and cos.dtype == np.float64
    a64, b64 = a3.astype(np.float64), b3.astype(np.float64)
    expected = (a64 * b64).sum(-1) / (np.linalg.norm(a64, axis=-1) * np.linalg.norm(b64, axis=-1))
    np.testing.assert_allclose(cos, expected, atol=1e-12)


def test_cosine_rows_identical_rows_are_exactly_one(rng):
    x = rng.standard_normal((50, 2, 33)).astype(np.float32)
    assert (cosine_rows(x, x) == 1.0).all()
    np.testing.assert_allclose(cosine_rows(x, -x), -1.0, atol=1e-12)


# --------------------------------------------------------------------------- validation


def test_input_error_is_value_error():
    assert issubclass(InputError, ValueError)


@pytest.mark.parametrize(
    "bad",
    [
        np.ones(4),  # 1-D
        np.ones((2, 2, 2, 2)),  # 4-D
        np.ones((1, 3)),  # a single vector
        np.ones((0, 3)),  # empty
        np.ones((3, 0)),  # no features
        np.array([[1.0, np.nan], [1.0, 2.0]]),
        np.array([[1.0, np.inf], [1.0, 2.0]]),
        np.array([["a", "b"], ["c", "d"]]),
    ],
)
def test_self_similarity_rejects_bad_input(bad):
    with pytest.raises(InputError):
        self_similarity(bad)
    with pytest.raises(InputError):
        self_similarity_pairwise(bad)


def test_zero_vector_is_named():
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
    with pytest.raises(InputError, match="row 1"):
        self_similarity(x)
    with pytest.raises(InputError, match="row 1"):
        top_k_share(x, 1)
    x3 = np.ones((3, 2, 2))
    x3[2, 1] = 0.0
    with pytest.raises(InputError, match="row 2 in layer 1"):
        self_similarity(x3)
    with pytest.raises(InputError, match="row 1"):
        cosine_rows(np.ones((2, 2)), x[:2])


def test_script_variant_allows_zero_rows_but_not_all_zero():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    assert top_k_share_script(x, 1) == pytest.approx((4 + 0) / (5 + 0))
    with pytest.raises(InputError):
        top_k_share_script(np.zeros((2, 3)), 1)


def _with_zero_row(rng, n=40, layers=3, d=8, row=7, layer=1):
    """Random ``[n, layers, d]`` states whose row ``row`` is zero at ``layer`` only."""
    x = rng.standard_normal((n, layers, d)) + 0.4
    x[row, layer] = 0.0
    return x


def test_zero_rows_nan_makes_only_the_layer_with_the_zero_row_undefined(rng):
    """Opt-in (``zero_rows="nan"``): the layer holding a zero row has an undefined
    self-similarity and paper top-k share (a mean over every vector needs its cosines),
    and every other layer is the strict estimator's value on that layer alone, to the
    bit. The code before issue 24 had no opt-in: the whole array raised."""
    x = _with_zero_row(rng)
    for strict, fn in (
        (self_similarity, lambda a, **kw: self_similarity(a, **kw)),
        (self_similarity_pairwise, lambda a, **kw: self_similarity_pairwise(a, **kw)),
        (lambda a: top_k_share(a, 3), lambda a, **kw: top_k_share(a, 3, **kw)),
    ):
        got = fn(x, zero_rows="nan")
        assert np.isnan(got[1])
        for layer in (0, 2):
            assert got[layer] == strict(x[:, layer])
        with pytest.raises(InputError, match="row 7 in layer 1"):
            fn(x)  # the default stays strict, and names the row and the layer


def test_cosine_rows_nan_only_for_the_pairs_with_a_zero_row(rng):
    """``cosine_rows(..., zero_rows="nan")``: a pair with a zero vector has an undefined
    cosine at that layer, two zero vectors too (they are identical, yet their cosine is
    not 1); every other cosine is the strict one. Before issue 24 there was no opt-in."""
    a, b = _with_zero_row(rng), _with_zero_row(rng, row=3, layer=2)
    b[7, 1] = 0.0  # pair 7 at layer 1: both vectors zero
    b[9, 0] = 0.0
    got = cosine_rows(a, b, zero_rows="nan")
    undefined = np.zeros(got.shape, dtype=bool)
    undefined[[7, 3, 9], [1, 2, 0]] = True
    assert (np.isnan(got) == undefined).all()
    keep = ~undefined.any(axis=1)
    np.testing.assert_array_equal(got[keep], cosine_rows(a[keep], b[keep]))


def test_top_k_share_script_all_zero_layer_is_nan_on_request():
    """The script's ratio of means counts zero rows as norm 0 either way; a layer of zero
    vectors only is 0 / 0: an error by default, NaN with ``zero_rows="nan"`` (before issue
    24: always an error)."""
    x = np.ones((2, 2, 3))
    x[:, 1] = 0.0
    got = top_k_share_script(x, 1, zero_rows="nan")
    assert got[0] == top_k_share_script(x[:, 0], 1) and np.isnan(got[1])
    with pytest.raises(InputError, match="only zero vectors"):
        top_k_share_script(x, 1)


def test_zero_rows_option_is_checked_and_zero_rows_are_found():
    """An unknown ``zero_rows`` is an InputError listing the choices (even on data without
    zero rows); :func:`find_zero_rows` gives the rows whose norm, computed as the
    estimators compute it, is exactly 0: a row whose squared norm underflows counts (its
    cosine cannot be computed, and the strict estimators reject it too), a tiny one whose
    does not is kept."""
    x = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1e-300], [-0.0, 0.0], [1e-150, 0.0]])
    with pytest.raises(InputError, match="raise"):
        self_similarity(x[:1].repeat(2, axis=0), zero_rows="skip")
    with pytest.raises(InputError, match="zero_rows"):
        cosine_rows(x, x, zero_rows=None)
    np.testing.assert_array_equal(stats_geometry.find_zero_rows(x), [1, 2, 3])
    with pytest.raises(InputError, match="row 1 is a zero vector"):
        self_similarity(x[[0, 2]])
    assert stats_geometry.find_zero_rows(x[[0, 4]]).size == 0 and np.isfinite(
        self_similarity(x[[0, 4]])
    )
    with pytest.raises(InputError):
        stats_geometry.find_zero_rows(np.zeros((2, 2, 2)))


def test_cosine_rows_rejects_mismatched_shapes():
    with pytest.raises(InputError, match="same shape"):
        cosine_rows(np.ones((3, 2)), np.ones((4, 2)))
    with pytest.raises(InputError, match="same shape"):
        cosine_rows(np.ones((3, 2, 4)), np.ones((3, 4)))
