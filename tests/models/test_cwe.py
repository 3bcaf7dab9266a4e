"""measure.cwe: the CWE sample and the batching check."""

from __future__ import annotations

import numpy as np
import pytest

import layerwise.measure.cwe as measure_cwe
from layerwise import data
from layerwise.store.cache import Cache


@pytest.mark.parametrize("special", [False, True])
def test_cwe_sample_from_cached_counts_equals_tokenizing_everything(tiny_model, special):
    from layerwise.extract.requests import cwe_requests

    sentences = [x.text for x in data.load_sts_sentences()[:300]]
    counts = [len(tiny_model.tokens(t)) for t in sentences]
    a, sa = cwe_requests(
        tiny_model, sentences, 200, np.random.default_rng(3), include_special=special
    )
    b, sb = cwe_requests(
        tiny_model,
        sentences,
        200,
        np.random.default_rng(3),
        include_special=special,
        counts=counts,
    )
    assert a == b
    np.testing.assert_array_equal(sa.position, sb.position)
    if tiny_model.spec.native_wrap and special:  # BOS/EOS positions can be drawn
        assert any(p == 0 or p == len(r.ids) - 1 for r in a for (p, _) in r.reads)


def test_cwe_sample_reads_the_corpus_counts_and_counts_other_sentences_itself(
    tiny_gpt2, tmp_path, monkeypatch
):
    """The book's sentences are counted once, as part of the STS corpus; a list with a
    sentence from elsewhere is counted itself. Either way the sample is the one drawn from
    counts made text by text."""
    from layerwise import MeasureOptions
    from layerwise.extract.requests import cwe_requests

    corpus = [x.text for x in data.load_sts_sentences()]
    inside = corpus[100:700:3]
    outside = [*inside, "A sentence that the STS corpus does not hold, surely."]
    s = MeasureOptions(n_cwe=120, cache=Cache(tmp_path / "c"))
    counted: list[int] = []
    real = measure_cwe.real_token_counts
    monkeypatch.setattr(
        measure_cwe,
        "real_token_counts",
        lambda lm, texts, s=None: counted.append(len(texts)) or real(lm, texts, s),
    )
    for sentences, lists in ((inside, [len(corpus)]), (outside, [len(outside)])):
        counted.clear()
        got, got_sample = measure_cwe.cwe_sample(tiny_gpt2, sentences, s)
        assert counted == lists
        counts = [len(tiny_gpt2.tokens(t)) for t in sentences]
        want, want_sample = cwe_requests(
            tiny_gpt2, sentences, 120, s.rng("cwe sample"), counts=counts
        )
        assert got == want
        np.testing.assert_array_equal(got_sample.position, want_sample.position)
        np.testing.assert_array_equal(got_sample.sentence, want_sample.sentence)


def test_batching_check_is_cached(tiny_gpt2, tmp_path):
    import layerwise as lw

    s = lw.MeasureOptions(cache=Cache(tmp_path / "c"))
    first = measure_cwe.batching_check(tiny_gpt2, ["a cat sat", "the dog ran home fast"], s)
    assert first["max relative"] < 1e-5
    again = measure_cwe.batching_check(tiny_gpt2, ["a cat sat", "the dog ran home fast"], s)
    assert again == first and s.cache.hits == 1
