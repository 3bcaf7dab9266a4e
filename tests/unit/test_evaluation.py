"""Tests for layerwise.evaluation: hand-built answers and scipy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import layerwise.stats.correlation as stats_correlation
import layerwise.stats.scores as stats_scores
from layerwise.errors import InputError
from layerwise.stats.correlation import (
    best_layer,
    bootstrap_ci,
    pearson_statistic,
    spearman_statistic,
)
from layerwise.stats.scores import (
    sc_weat_effect_sizes,
    sts_scores,
    valnorm_scores,
    word_similarity_scores,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1379)


def unit(angles: np.ndarray) -> np.ndarray:
    """2-D unit vectors at the given angles (radians), shape [n, 2]."""
    angles = np.asarray(angles, dtype=np.float64)
    return np.stack([np.cos(angles), np.sin(angles)], axis=-1)


def noisy_pairs(rng: np.random.Generator, n: int = 200, layers: int = 3, d: int = 16):
    """Word-pair embeddings whose cosine tracks a human score more in higher layers."""
    human = rng.uniform(0, 10, n)
    emb1 = rng.standard_normal((n, layers, d))
    noise = rng.standard_normal((n, layers, d))
    signal = np.linspace(0.0, 0.3, layers)[None, :, None] * human[:, None, None]
    emb2 = emb1 * signal + noise
    return emb1.astype(np.float32), emb2.astype(np.float32), human


# --------------------------------------------------------------------------- statistics


def test_statistics_match_scipy(rng):
    x = rng.standard_normal((4, 50))
    y = rng.standard_normal(50) + x[2]
    x[1] = np.round(x[1])  # ties
    spear = spearman_statistic(x, y)
    pear = pearson_statistic(x, y)
    for layer in range(4):
        assert spear[layer] == pytest.approx(stats.spearmanr(x[layer], y).statistic, abs=1e-12)
        assert pear[layer] == pytest.approx(stats.pearsonr(x[layer], y).statistic, abs=1e-12)


def test_statistic_of_constant_is_nan():
    assert np.isnan(pearson_statistic(np.ones(5), np.arange(5.0)))
    assert np.isnan(spearman_statistic(np.arange(5.0), np.full(5, 0.1)))


# --------------------------------------------------------------------------- word similarity


def test_word_similarity_monotone_is_one_and_reversed_is_minus_one():
    angles = np.linspace(0.1, 3.0, 12)  # cosine decreases with the angle
    emb1 = unit(np.zeros(12))
    emb2 = unit(angles) * np.linspace(1, 5, 12)[:, None]  # norms must not matter
    human = 10.0 - angles  # more similar = smaller angle
    (score,) = word_similarity_scores(emb1, emb2, human)
    assert score.n == 12 and score.method == "spearman"
    assert score.value == pytest.approx(1.0, abs=1e-12)
    assert math.isnan(score.low) and math.isnan(score.high)
    (reversed_score,) = word_similarity_scores(emb1, emb2, angles)
    assert reversed_score.value == pytest.approx(-1.0, abs=1e-12)


def test_word_similarity_matches_scipy_per_layer(rng):
    emb1, emb2, human = noisy_pairs(rng)
    scores = word_similarity_scores(emb1, emb2, human)
    assert len(scores) == 3
    e1, e2 = emb1.astype(np.float64), emb2.astype(np.float64)
    for layer, score in enumerate(scores):
        cos = (e1[:, layer] * e2[:, layer]).sum(-1) / (
            np.linalg.norm(e1[:, layer], axis=-1) * np.linalg.norm(e2[:, layer], axis=-1)
        )
        assert score.value == pytest.approx(stats.spearmanr(cos, human).statistic, abs=1e-9)
        assert score.n == 200 and score.method == "spearman"
    assert scores[0].value < scores[2].value


def test_word_similarity_2d_returns_single_score(rng):
    emb1, emb2, human = noisy_pairs(rng)
    scores_2d = word_similarity_scores(emb1[:, 1], emb2[:, 1], human)
    scores_3d = word_similarity_scores(emb1, emb2, human)
    assert len(scores_2d) == 1
    assert scores_2d[0].value == pytest.approx(scores_3d[1].value, abs=1e-12)


def test_bootstrap_ci_contains_estimate_and_is_seeded(rng):
    emb1, emb2, human = noisy_pairs(rng)
    first = word_similarity_scores(emb1, emb2, human, rng=np.random.default_rng(7))
    again = word_similarity_scores(emb1, emb2, human, rng=np.random.default_rng(7))
    seeded = word_similarity_scores(emb1, emb2, human, rng=7)
    other = word_similarity_scores(emb1, emb2, human, rng=np.random.default_rng(8))
    assert first == again == seeded
    assert first != other
    for score in first:
        assert score.low < score.value < score.high
        assert score.high - score.low < 0.5


def test_fast_bootstrap_equals_reranking_every_resample(rng):
    """The score functions' CI equals scipy's bootstrap of the plain Spearman statistic."""
    n = 80
    emb1 = rng.standard_normal((n, 2, 4))
    emb2 = rng.standard_normal((n, 2, 4))
    emb2[:10] = emb1[:10]  # ten cosines tie at exactly 1
    human = np.round(rng.uniform(0, 4, n))  # heavy ties in the human scores
    scores = word_similarity_scores(
        emb1, emb2, human, rng=np.random.default_rng(3), n_resamples=300
    )
    cos = np.stack(
        [
            (emb1[:, k] * emb2[:, k]).sum(-1)
            / (np.linalg.norm(emb1[:, k], axis=-1) * np.linalg.norm(emb2[:, k], axis=-1))
            for k in range(2)
        ]
    )
    cos[:, :10] = 1.0
    low, high = bootstrap_ci(
        spearman_statistic,
        (cos, np.broadcast_to(human, cos.shape)),
        rng=np.random.default_rng(3),
        n_resamples=300,
    )
    np.testing.assert_allclose([s.low for s in scores], low, atol=1e-12)
    np.testing.assert_allclose([s.high for s in scores], high, atol=1e-12)


def test_bootstrap_ci_scalar_statistic(rng):
    x = rng.standard_normal(60)
    y = x + rng.standard_normal(60)
    low, high = bootstrap_ci(pearson_statistic, (x, y), rng=np.random.default_rng(0))
    assert isinstance(low, float) and isinstance(high, float)
    assert low < stats.pearsonr(x, y).statistic < high
    with pytest.raises(InputError):
        bootstrap_ci(pearson_statistic, (x, y), rng=None)
    with pytest.raises(InputError, match="same length"):
        bootstrap_ci(pearson_statistic, (x, y[:-1]), rng=np.random.default_rng(0))


def test_sts_scores_share_the_word_similarity_estimator(rng):
    emb1, emb2, gold = noisy_pairs(rng, n=60)
    assert sts_scores(emb1, emb2, gold, rng=5) == word_similarity_scores(emb1, emb2, gold, rng=5)


def test_constant_layer_scores_nan_and_is_skipped_by_best_layer(rng):
    emb1, emb2, human = noisy_pairs(rng, n=40)
    emb2[:, 0] = emb1[:, 0]  # every cosine in layer 0 is 1: no correlation
    scores = word_similarity_scores(emb1, emb2, human, rng=1, n_resamples=200)
    assert math.isnan(scores[0].value) and math.isnan(scores[0].low)
    assert not math.isnan(scores[2].low)
    assert best_layer([s.value for s in scores]) in (1, 2)


# --------------------------------------------------------------------------- ValNorm


def attribute_sets():
    spread = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    pleasant = unit(spread)  # around +x
    unpleasant = unit(np.pi + spread) * 2.0  # around -x (norms must not matter)
    return spread, pleasant, unpleasant


def test_sc_weat_effect_size_hand_example():
    spread, pleasant, unpleasant = attribute_sets()
    angles = np.array([0.0, np.pi, np.pi / 2, 0.3])
    effect = sc_weat_effect_sizes(unit(angles) * 3.0, pleasant, unpleasant)
    assert effect.shape == (4,)
    assert effect[0] > 0 > effect[1]  # along pleasant / along unpleasant
    assert effect[0] == pytest.approx(-effect[1], abs=1e-12)  # mirror images
    assert effect[2] == pytest.approx(0.0, abs=1e-12)  # equidistant from both sets
    # target at 0.3 rad, from the definition
    cos_a = np.cos(0.3 - spread)
    cos_b = np.cos(0.3 - (np.pi + spread))
    both = np.concatenate([cos_a, cos_b])
    expected = (cos_a.mean() - cos_b.mean()) / np.std(both, ddof=1)
    assert effect[3] == pytest.approx(expected, abs=1e-12)
    assert effect[3] < effect[0]


def test_sc_weat_per_layer_matches_2d(rng):
    targets = rng.standard_normal((30, 3, 8))
    pleasant = rng.standard_normal((25, 3, 8))
    unpleasant = rng.standard_normal((25, 3, 8))
    effect = sc_weat_effect_sizes(targets, pleasant, unpleasant)
    assert effect.shape == (30, 3)
    for layer in range(3):
        np.testing.assert_allclose(
            effect[:, layer],
            sc_weat_effect_sizes(targets[:, layer], pleasant[:, layer], unpleasant[:, layer]),
            atol=1e-12,
        )


def test_population_sd_rescales_effect_sizes_and_leaves_pearson_unchanged(rng):
    targets = rng.standard_normal((40, 2, 6))
    pleasant = rng.standard_normal((25, 2, 6)) + 1.0
    unpleasant = rng.standard_normal((25, 2, 6)) - 1.0
    valence = rng.uniform(1, 5, 40)
    sample = sc_weat_effect_sizes(targets, pleasant, unpleasant)
    population = sc_weat_effect_sizes(targets, pleasant, unpleasant, ddof=0)
    np.testing.assert_allclose(population * np.sqrt(49 / 50), sample, rtol=1e-12)
    r1 = valnorm_scores(targets, pleasant, unpleasant, valence)
    r0 = valnorm_scores(targets, pleasant, unpleasant, valence, ddof=0)
    np.testing.assert_allclose([s.value for s in r0], [s.value for s in r1], atol=1e-12)


def test_valnorm_scores_pearson_and_bootstrap(rng):
    _, pleasant, unpleasant = attribute_sets()
    angles = rng.uniform(0, np.pi, 50)
    valence = -angles + rng.normal(0, 0.3, 50)  # closer to +x = more pleasant
    targets = unit(angles)
    scores = valnorm_scores(targets, pleasant, unpleasant, valence, rng=np.random.default_rng(4))
    effect = sc_weat_effect_sizes(targets, pleasant, unpleasant)
    (score,) = scores
    assert score.method == "pearson" and score.n == 50
    assert score.value == pytest.approx(stats.pearsonr(effect, valence).statistic, abs=1e-12)
    assert score.value > 0.8
    assert score.low < score.value < score.high
    again = valnorm_scores(targets, pleasant, unpleasant, valence, rng=np.random.default_rng(4))
    assert again == scores


def test_valnorm_fast_bootstrap_equals_plain_pearson_bootstrap(rng):
    targets = rng.standard_normal((40, 2, 6))
    pleasant = rng.standard_normal((5, 2, 6)) + 1.0
    unpleasant = rng.standard_normal((5, 2, 6)) - 1.0
    valence = rng.uniform(1, 5, 40)
    scores = valnorm_scores(
        targets, pleasant, unpleasant, valence, rng=np.random.default_rng(9), n_resamples=300
    )
    effect = sc_weat_effect_sizes(targets, pleasant, unpleasant).T
    low, high = bootstrap_ci(
        pearson_statistic,
        (effect, np.broadcast_to(valence, effect.shape)),
        rng=np.random.default_rng(9),
        n_resamples=300,
    )
    np.testing.assert_allclose([s.low for s in scores], low, atol=1e-12)
    np.testing.assert_allclose([s.high for s in scores], high, atol=1e-12)


def test_undefined_effect_size_is_nan_with_warning():
    _, pleasant, unpleasant = attribute_sets()
    same = np.ones((3, 2))  # all attribute words identical: every cosine equal
    with pytest.warns(RuntimeWarning, match="undefined"):
        effect = sc_weat_effect_sizes(unit([0.0, 1.0]), same, same)
    assert np.isnan(effect).all()


# --------------------------------------------------------------------------- layer choice


def test_best_layer_is_the_highest_defined_value_ties_to_the_lowest_layer():
    assert best_layer([0.1, 0.5, 0.3, 0.5, 0.2]) == 1  # tie with layer 3: the lower layer
    assert best_layer([math.nan, 0.2, 0.4]) == 2
    assert best_layer([-0.3, math.nan, -0.1]) == 2
    assert best_layer([math.nan, math.nan]) is None  # undefined, never a made-up layer
    with pytest.raises(InputError):
        best_layer([])


# --------------------------------------------------------------------------- validation


def test_word_similarity_input_validation(rng):
    emb1, emb2, human = noisy_pairs(rng, n=20)
    with pytest.raises(InputError, match="20 items"):
        word_similarity_scores(emb1, emb2, human[:-1])
    with pytest.raises(InputError, match="same shape"):
        word_similarity_scores(emb1, emb2[:-1], human)
    bad_human = human.copy()
    bad_human[3] = np.nan
    with pytest.raises(InputError, match="NaN"):
        word_similarity_scores(emb1, emb2, bad_human)
    bad_emb = emb1.copy()
    bad_emb[5, 1, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        word_similarity_scores(bad_emb, emb2, human)
    zero = emb2.copy()
    zero[4, 2] = 0.0
    with pytest.raises(InputError, match="row 4 in layer 2"):
        word_similarity_scores(emb1, zero, human)
    with pytest.raises(InputError):
        word_similarity_scores(np.empty((0, 3, 4)), np.empty((0, 3, 4)), np.empty(0))
    with pytest.raises(InputError, match="at least 2"):
        word_similarity_scores(emb1[:1], emb2[:1], human[:1])
    with pytest.raises(InputError, match="constant"):
        word_similarity_scores(emb1, emb2, np.full(20, 3.0))
    with pytest.raises(InputError, match="rng"):
        word_similarity_scores(emb1, emb2, human, rng="seed")
    with pytest.raises(InputError):
        sts_scores(emb1, emb2, human[:, None])


def test_valnorm_input_validation(rng):
    targets = rng.standard_normal((10, 2, 4))
    pleasant = rng.standard_normal((5, 2, 4))
    unpleasant = rng.standard_normal((5, 2, 4))
    with pytest.raises(InputError, match="agree"):
        sc_weat_effect_sizes(targets, pleasant[:, :1], unpleasant)
    with pytest.raises(InputError, match="agree"):
        sc_weat_effect_sizes(targets[:, 0], pleasant, unpleasant)
    with pytest.raises(InputError, match="ddof"):
        sc_weat_effect_sizes(targets, pleasant, unpleasant, ddof=2)
    with pytest.raises(InputError):
        sc_weat_effect_sizes(targets, pleasant[:0], unpleasant)
    zero = pleasant.copy()
    zero[3, 1] = 0.0
    with pytest.raises(InputError, match="pleasant row 3 in layer 1"):
        sc_weat_effect_sizes(targets, zero, unpleasant)
    with pytest.raises(InputError, match="10 items"):
        valnorm_scores(targets, pleasant, unpleasant, np.arange(9.0))


def _plain_pearson(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Pearson's r along ``axis`` written out with numpy (the reference statistic)."""
    xm = x - x.mean(axis=axis, keepdims=True)
    ym = y - y.mean(axis=axis, keepdims=True)
    return (xm * ym).sum(axis=axis) / np.sqrt((xm**2).sum(axis=axis) * (ym**2).sum(axis=axis))


@pytest.mark.parametrize("n_resamples", [7, 250])
def test_bootstrap_ci_equals_scipy_bootstrap_called_directly(rng, n_resamples):
    """The wrapper's bounds are scipy's paired percentile bootstrap of the same data with the
    same seeded generator: a wrapper that resampled unpaired, used another interval method
    or another generator would give other bounds."""
    x = rng.standard_normal((3, 25))  # three "layers", items on the last axis
    y = np.broadcast_to(x[0] + rng.standard_normal(25), x.shape)
    low, high = bootstrap_ci(
        _plain_pearson, (x, y), rng=np.random.default_rng(42), n_resamples=n_resamples
    )
    ref = stats.bootstrap(
        (x, y),
        _plain_pearson,
        n_resamples=n_resamples,
        vectorized=True,
        paired=True,
        axis=-1,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(42),
    )
    np.testing.assert_array_equal(low, ref.confidence_interval.low)
    np.testing.assert_array_equal(high, ref.confidence_interval.high)
    # a scalar statistic gives float bounds, the same as scipy's
    lo1, hi1 = bootstrap_ci(
        _plain_pearson, (x[1], y[1]), rng=np.random.default_rng(3), n_resamples=n_resamples
    )
    ref1 = stats.bootstrap(
        (x[1], y[1]),
        _plain_pearson,
        n_resamples=n_resamples,
        paired=True,
        method="percentile",
        rng=np.random.default_rng(3),
    )
    assert (lo1, hi1) == (ref1.confidence_interval.low, ref1.confidence_interval.high)
    # the interval is not the degenerate one: resampling happened
    assert (low < high).all()


def test_fast_resampled_spearman_equals_a_plain_loop_that_reranks():
    """correlation_scores' resampled Spearman (multiplicities and cumulative ranks, no
    re-sorting) against a loop that draws the resampled item indices the way scipy's
    bootstrap does (one ``integers(0, n, (B, n))`` call on the same generator), takes those
    items and calls scipy.stats.spearmanr, then the linear-interpolated 2.5% and 97.5%
    quantiles. Ties in the values and the target exercise the tie groups."""
    from layerwise.stats.correlation import _resampled_statistic, correlation_scores

    gen = np.random.default_rng(8)
    n, n_layers, n_resamples = 14, 3, 9
    values = np.round(gen.normal(size=(n, n_layers)), 1)  # ties within each layer
    values[:3, 2] = 0.5  # a tie group of three
    target = np.round(gen.uniform(0, 4, n))  # heavy ties in the target

    idx = np.random.default_rng(21).integers(0, n, (n_resamples, n))
    rho = np.array(
        [
            [stats.spearmanr(values[i, layer], target[i]).statistic for i in idx]
            for layer in range(n_layers)
        ]
    )  # [L, B]
    assert np.isfinite(rho).all()
    # every resample, every layer: the fast statistic is the re-ranked one
    fast = _resampled_statistic(values.T, target, "spearman")(idx)
    np.testing.assert_allclose(fast, rho, rtol=0, atol=1e-12)
    # and the public scores' bounds are the quantiles of those resamples
    scores = correlation_scores(
        values,
        target,
        method="spearman",
        target_name="human",
        rng=np.random.default_rng(21),
        n_resamples=n_resamples,
    )
    low, high = np.quantile(rho, [0.025, 0.975], axis=-1)
    np.testing.assert_allclose([s.low for s in scores], low, rtol=0, atol=1e-12)
    np.testing.assert_allclose([s.high for s in scores], high, rtol=0, atol=1e-12)
    for layer, s in enumerate(scores):
        assert s.value == pytest.approx(stats.spearmanr(values[:, layer], target).statistic)


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_resampled_statistic_goes_layer_by_layer(method):
    """Each layer's bootstrap correlations are those of that layer alone (to the last bit),
    and a batch of resamples of many layers holds arrays of one layer ([B, n]), never of
    every layer at once ([B, L, n] float64: 59 MB here), whatever the number of layers."""
    import tracemalloc

    from layerwise.stats.correlation import _resampled_statistic

    gen = np.random.default_rng(5)
    n, n_layers, batch = 2000, 37, 100
    values = np.round(gen.normal(size=(n_layers, n)), 2)  # ties within each layer
    values[3] = 1.0  # a constant layer: NaN
    target = np.round(gen.normal(size=n), 1)
    idx = gen.integers(0, n, (batch, n))
    tracemalloc.start()
    try:
        every = _resampled_statistic(values, target, method)(idx)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert every.shape == (n_layers, batch) and np.isnan(every[3]).all()
    assert peak < 0.25 * batch * n_layers * n * 8
    for layer in (0, 3, 17, n_layers - 1):
        alone = _resampled_statistic(values[layer : layer + 1], target, method)(idx)
        np.testing.assert_array_equal(every[layer : layer + 1], alone)


def _scores_of_cosines(cos: np.ndarray, human: np.ndarray, monkeypatch) -> list:
    monkeypatch.setattr(stats_scores, "cosine_rows", lambda a, b, **kw: cos)
    dummy = np.ones((len(cos), 2))
    return stats_scores.word_similarity_scores(dummy, dummy, human)


def test_cosines_one_ulp_apart_rank_as_ties(monkeypatch) -> None:
    human = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    exact = np.array([0.3, 0.3, 0.1, 0.7, 0.7])
    nudged = exact.copy()
    nudged[1] = np.nextafter(0.3, 1.0)  # one ulp above its twin
    nudged[3] = np.nextafter(0.7, 0.0)  # one ulp below its twin
    rho_exact = _scores_of_cosines(exact, human, monkeypatch)[0].value
    rho_nudged = _scores_of_cosines(nudged, human, monkeypatch)[0].value
    # by hand: ranks (2.5, 2.5, 1, 4.5, 4.5) against (1..5): rho = 6 / sqrt(9 * 10)
    assert rho_exact == pytest.approx(6 / np.sqrt(90))
    assert rho_nudged == rho_exact
    # without snapping the nudged values would be ranked (2, 3, 1, 4, 5): rho = 7 / 10
    assert stats_correlation.spearman_statistic(nudged, human) == pytest.approx(0.7)


def test_near_constant_cosines_give_an_undefined_correlation(monkeypatch) -> None:
    base = 0.5
    cos = np.array([base, np.nextafter(base, 1), base, np.nextafter(base, 0), base])
    score = _scores_of_cosines(cos, np.arange(5.0), monkeypatch)[0]
    assert np.isnan(score.value)
    snapped = stats_scores.snap_near_ties(np.array([[0.1, 0.1 + 1e-9], [0.2, 0.2]]), axis=-1)
    assert snapped[0, 0] != snapped[0, 1]  # 1e-9 is a real difference, kept


def test_snap_near_ties_keeps_undefined_values_undefined() -> None:
    """NaN sorts last, and the gap to it is NaN (not above the tolerance): before issue 24
    a NaN cosine joined the run of the largest cosine and became a number, so a pair with a
    zero vector would have been ranked as the most similar."""
    values = np.array([[0.2, np.nan, 0.9, 0.9 + 1e-17], [np.nan, 0.1, 0.3, 0.5]])
    got = stats_scores.snap_near_ties(values, axis=-1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(values))
    np.testing.assert_array_equal(got[0, [0, 2, 3]], [0.2, 0.9, 0.9])


def test_an_undefined_pair_makes_the_layers_correlation_undefined(rng) -> None:
    """A pair whose cosine needs a zero vector (``zero_rows="nan"``) is NaN, and Spearman's
    rho over all pairs of that layer is NaN with ``n`` unchanged and no interval (no pair
    is dropped: scipy's nan_policy="propagate"); the other layers' scores are the strict
    ones, intervals included. Before issue 24 there was no opt-in (the call raised), and
    with the NaN cosine given directly, ``snap_near_ties`` turned it into a number."""
    emb1, emb2, human = noisy_pairs(rng, n=60, layers=3)
    zero = emb2.copy()
    zero[11, 0] = 0.0
    got = word_similarity_scores(emb1, zero, human, rng=5, n_resamples=50, zero_rows="nan")
    assert np.isnan([got[0].value, got[0].low, got[0].high]).all() and got[0].n == 60
    strict = word_similarity_scores(emb1[:, 1:], zero[:, 1:], human, rng=5, n_resamples=50)
    assert got[1:] == strict
    cos = stats_scores.cosine_rows(emb1, zero, zero_rows="nan")
    assert np.isnan(cos[11, 0]) and np.isnan(cos).sum() == 1
    assert np.isnan(stats_scores.scores_of_cosines(cos[:, 0], human)[0].value)
    assert np.isnan(stats.spearmanr(cos[:, 0], human, nan_policy="propagate").statistic)
    assert np.isnan(sts_scores(emb1, zero, human, zero_rows="nan")[0].value)


def test_sc_weat_zero_target_or_attribute_on_request(rng) -> None:
    """``zero_rows="nan"``: a zero target vector makes its own effect size undefined; a
    zero attribute vector makes every effect size of that layer undefined (each needs the
    cosine with every attribute word); everything else is the strict value to the bit.
    Before issue 24 there was no opt-in: the whole call raised."""
    targets = rng.standard_normal((12, 3, 5))
    pleasant = rng.standard_normal((6, 3, 5))
    unpleasant = rng.standard_normal((6, 3, 5))
    targets[2, 0] = 0.0
    pleasant[4, 2] = 0.0
    with pytest.warns(RuntimeWarning, match="13 effect size"):
        got = sc_weat_effect_sizes(targets, pleasant, unpleasant, zero_rows="nan")
    expected = np.zeros(got.shape, dtype=bool)
    expected[2, 0] = True
    expected[:, 2] = True
    np.testing.assert_array_equal(np.isnan(got), expected)
    keep = np.arange(12) != 2
    np.testing.assert_array_equal(
        got[keep, 0], sc_weat_effect_sizes(targets[keep, 0], pleasant[:, 0], unpleasant[:, 0])
    )
    np.testing.assert_array_equal(
        got[:, 1], sc_weat_effect_sizes(targets[:, 1], pleasant[:, 1], unpleasant[:, 1])
    )
    with pytest.warns(RuntimeWarning, match="or a zero vector"):
        scores = valnorm_scores(targets, pleasant, unpleasant, np.arange(12.0), zero_rows="nan")
    assert [np.isnan(s.value) for s in scores] == [True, False, True]
