"""store.memo: the bootstrap memo reads what it stored and nothing stale."""

from __future__ import annotations

import numpy as np

import layerwise.stats.correlation as stats_correlation
import layerwise.stats.scores as stats_scores
from layerwise.store.cache import Cache


def test_memoised_bootstrap_equals_computed_and_restores_the_generator(tmp_path, monkeypatch):
    from layerwise.store.memo import BootstrapMemo

    rng_data = np.random.default_rng(5)
    a, b = rng_data.normal(size=(40, 3, 8)), rng_data.normal(size=(40, 3, 8))
    human = rng_data.normal(size=40)

    def run(memo=None) -> tuple[list, float]:
        g = np.random.default_rng(11)
        scores = stats_scores.word_similarity_scores(a, b, human, rng=g, n_resamples=50, memo=memo)
        return [(x.low, x.high) for x in scores], float(g.random())

    cold, next_draw = run()
    memo = BootstrapMemo(Cache(tmp_path / "c"))
    first, first_draw = run(memo)  # computes and stores
    assert (memo.computed, memo.reused) == (1, 0)
    calls = []
    real = stats_correlation.bootstrap_ci
    monkeypatch.setattr(
        stats_correlation, "bootstrap_ci", lambda *x, **k: calls.append(1) or real(*x, **k)
    )
    second, second_draw = run(memo)  # reads
    assert calls == []
    assert (memo.computed, memo.reused) == (1, 1)
    # another generator state is another key: computed, not read
    g = np.random.default_rng(12)
    stats_scores.word_similarity_scores(a, b, human, rng=g, n_resamples=50, memo=memo)
    assert calls == [1] and memo.computed == 2
    assert cold == first == second
    assert next_draw == first_draw == second_draw


def test_memo_key_varies_with_the_resamples_and_every_array(tmp_path):
    """Every part of the bootstrap memo's key is varied once: another number of resamples,
    a changed cosine input, a changed human rating. Each must be computed (the counters),
    and its bounds must equal a computation without any memo (a stale read would give
    the bounds stored for the first call). Repeating the first call is read, not computed."""
    from layerwise.store.memo import BootstrapMemo

    data = np.random.default_rng(5)
    a, b = data.normal(size=(40, 3, 8)), data.normal(size=(40, 3, 8))
    human = data.normal(size=40)

    def bounds(a, b, human, n_resamples, memo=None) -> list[tuple[float, float]]:
        g = np.random.default_rng(11)
        scores = stats_scores.word_similarity_scores(
            a, b, human, rng=g, n_resamples=n_resamples, memo=memo
        )
        return [(x.low, x.high) for x in scores]

    memo = BootstrapMemo(Cache(tmp_path / "c"))
    first = bounds(a, b, human, 50, memo)
    assert (memo.computed, memo.reused) == (1, 0)
    assert first == bounds(a, b, human, 50)

    a2 = a.copy()
    a2[7, 1, 3] += 0.5  # one value of one word's vector at one layer
    b2 = b.copy()
    b2[0, 2, 0] -= 0.25
    human2 = human.copy()
    human2[3] += 1.0
    variants = [(a, b, human, 60), (a2, b, human, 50), (a, b2, human, 50), (a, b, human2, 50)]
    for k, (xa, xb, xh, n) in enumerate(variants, start=2):
        got = bounds(xa, xb, xh, n, memo)
        assert (memo.computed, memo.reused) == (k, 0), f"variant {k - 1} was read, not computed"
        plain = bounds(xa, xb, xh, n)
        assert got == plain
        assert got != first  # the variant really changes the bounds: a stale read would show
    assert bounds(a, b, human, 50, memo) == first
    assert (memo.computed, memo.reused) == (5, 1)
