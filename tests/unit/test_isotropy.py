"""Known-answer tests for layerwise.isotropy (IsoScore, uniformity, alignment, rogue dims)."""

from __future__ import annotations

import numpy as np
import pytest

from layerwise.errors import InputError
from layerwise.stats import geometry, isotropy


def naive_uniformity(x: np.ndarray) -> float:
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    sq = ((u[:, None, :] - u[None, :, :]) ** 2).sum(-1)
    i, j = np.triu_indices(len(u), k=1)
    return float(np.log(np.mean(np.exp(-2 * sq[i, j]))))


def test_uniformity_of_antipodal_points_is_minus_eight():
    assert isotropy.uniformity(np.array([[1.0, 0.0], [-3.0, 0.0]])) == pytest.approx(-8.0)


def test_uniformity_of_a_cross_by_hand():
    # +-e1, +-e2: 2 antipodal pairs (|u-v|^2 = 4) and 4 orthogonal ones (|u-v|^2 = 2)
    x = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
    expected = np.log((2 * np.exp(-8) + 4 * np.exp(-4)) / 6)
    for block in (1, 2, 3, 512):
        # float32 cosines and terms (isotropy._logsumexp_pairs): within 1e-7 of the exact value
        assert isotropy.uniformity(x, block=block) == pytest.approx(expected, abs=1e-7)


def test_uniformity_blocks_match_the_full_matrix_on_every_layer():
    x = np.random.default_rng(0).normal(size=(57, 3, 5)) + 0.5
    got = isotropy.uniformity(x, block=7)
    want = [naive_uniformity(x[:, layer]) for layer in range(3)]
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_uniformity_of_identical_directions_is_zero():
    x = np.tile([[1.0, 2.0, 3.0]], (10, 1)) * np.arange(1, 11)[:, None]
    assert isotropy.uniformity(x) == pytest.approx(0.0, abs=1e-12)


def test_uniformity_pair_subsample_is_seeded_and_close():
    x = np.random.default_rng(1).normal(size=(400, 8))
    a = isotropy.uniformity(x, n_pairs=20_000, rng=3)
    assert a == isotropy.uniformity(x, n_pairs=20_000, rng=3)
    assert a == pytest.approx(naive_uniformity(x), abs=0.02)
    with pytest.raises(InputError):
        isotropy.uniformity(x, n_pairs=10)


def test_alignment_known_answers():
    a = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert isotropy.alignment(a, 3 * a) == pytest.approx(0.0)
    assert isotropy.alignment(a, -a) == pytest.approx(4.0)
    # one identical pair (0) and one orthogonal pair (2): mean 1
    assert isotropy.alignment(a, np.array([[5.0, 0.0], [1.0, 0.0]])) == pytest.approx(1.0)
    with pytest.raises(InputError):
        isotropy.alignment(a, a[:1])


def test_isoscore_of_isotropic_gaussian_is_near_one():
    x = np.random.default_rng(0).normal(size=(20_000, 10))
    assert isotropy.isoscore(x) > 0.99


def test_isoscore_of_a_line_is_zero():
    rng = np.random.default_rng(0)
    direction = rng.normal(size=16)
    x = rng.normal(size=(500, 1)) * direction + 3.0
    assert isotropy.isoscore(x) == pytest.approx(0.0, abs=1e-9)


def test_isoscore_of_k_equal_dimensions_by_hand():
    # variance equal on k of d axes: v_hat has k entries sqrt(d/k), phi = k/d,
    # IsoScore = (k - 1) / (d - 1)
    d, k = 10, 4
    rng = np.random.default_rng(0)
    x = np.zeros((4000, d))
    signs = rng.choice([-1.0, 1.0], size=(4000, k))
    x[:, :k] = signs  # variance 1 on each of k axes, uncorrelated in expectation
    assert isotropy.isoscore(x) == pytest.approx((k - 1) / (d - 1), abs=0.02)


def test_isoscore_of_identical_points_is_undefined_not_an_error():
    x = np.random.default_rng(0).normal(size=(20, 2, 4))
    x[:, 0] = x[0, 0]  # layer 0: every point the same
    got = isotropy.isoscore(x)
    assert np.isnan(got[0]) and 0 < got[1] < 1


def test_isoscore_per_layer_and_invariant_to_rotation():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 2, 6)) * np.array([1, 1, 1, 2, 3, 5])
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    got = isotropy.isoscore(x)
    assert got.shape == (2,)
    assert isotropy.isoscore(x[:, 0] @ q) == pytest.approx(got[0])
    assert 0 < got[0] < 1


def test_cosine_contributions_sum_to_self_similarity():
    x = np.random.default_rng(0).normal(size=(50, 3, 7)) + 1.0
    c = isotropy.cosine_contributions(x)
    assert c.shape == (3, 7)
    np.testing.assert_allclose(c.sum(axis=1), geometry.self_similarity(x), atol=1e-12)


def test_contributions_by_hand():
    # two copies of (0.6, 0.8): each dimension contributes u_k^2
    c = isotropy.cosine_contributions(np.array([[3.0, 4.0], [3.0, 4.0]]))
    np.testing.assert_allclose(c, [0.36, 0.64])


def test_rogue_shares_on_a_planted_dimension():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 50))
    x[:, 17] += 20.0  # one rogue dimension with a huge common offset
    c = isotropy.cosine_contributions(x)
    assert int(c.argmax()) == 17
    top1, top3, top10 = isotropy.rogue_shares(c)
    assert 0.98 < top1 <= top3 <= top10
    # by hand on given contributions
    np.testing.assert_allclose(
        isotropy.rogue_shares(np.array([3.0, 1.0, 0.0, 0.0]), (1, 3)), [0.75, 1.0]
    )


def test_rogue_shares_undefined_when_expected_cosine_not_positive():
    c = isotropy.cosine_contributions(np.array([[1.0, 0.0], [-1.0, 0.0]]))
    np.testing.assert_allclose(c, [-1.0, 0.0])
    assert np.isnan(isotropy.rogue_shares(c, (1,))).all()
    with pytest.raises(InputError):
        isotropy.rogue_shares(c, (3,))


def test_zero_rows_nan_leaves_other_layers_and_isoscore_alone():
    """With ``zero_rows="nan"`` a layer holding a zero vector has undefined uniformity,
    alignment (when a pair holds it) and cosine contributions (so undefined rogue shares);
    the other layers are the strict estimators' values to the bit, and IsoScore (no
    directions) is unchanged. Before issue 24 these estimators had no opt-in and the
    whole array raised; the default still does."""
    rng = np.random.default_rng(24)
    x = rng.normal(size=(30, 3, 6)) + 0.5
    x[4, 1] = 0.0
    for fn in (isotropy.uniformity, isotropy.cosine_contributions):
        got = fn(x, zero_rows="nan")
        assert np.isnan(got[1]).all()
        for layer in (0, 2):
            np.testing.assert_array_equal(got[layer], fn(x[:, layer]))
        with pytest.raises(InputError, match="row 4 in layer 1"):
            fn(x)
    shares = isotropy.rogue_shares(isotropy.cosine_contributions(x, zero_rows="nan"), (1, 3))
    assert np.isnan(shares[1]).all() and np.isfinite(shares[[0, 2]]).all()
    a, b = x[:15], x[15:]
    got = isotropy.alignment(a, b, zero_rows="nan")
    assert np.isnan(got[1]) and got[0] == isotropy.alignment(a[:, 0], b[:, 0])
    np.testing.assert_array_equal(
        isotropy.isoscore(x), [isotropy.isoscore(x[:, k]) for k in range(3)]
    )
    # a subsample of pairs needs only the pairs drawn: NaN exactly when one holds row 4
    sub = isotropy.uniformity(x[:, 1], n_pairs=3, rng=0, zero_rows="nan")
    gen = np.random.default_rng(0)
    i = gen.integers(0, 30, size=3)
    j = (i + gen.integers(1, 30, size=3)) % 30
    assert np.isnan(sub) == bool(np.isin(4, np.concatenate([i, j])))
