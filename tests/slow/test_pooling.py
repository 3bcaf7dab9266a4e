"""MiniLM's own pooling (the ``native`` setting) on its real weights, and the outside check
against MTEB's published STS-B score of all-MiniLM-L6-v2 (chapter 5)."""

from __future__ import annotations

import layerwise as lw
import layerwise.measure.sentences as measure_sentences
import layerwise.models.pooling as models_pooling
from layerwise.extract.requests import sentence_requests


def test_minilm_native_reads_every_token_of_its_input(minilm):
    assert models_pooling.native_pooling(minilm.spec.source) == "mean"
    assert "native" in models_pooling.sentence_settings(minilm.spec.source)
    (native,) = sentence_requests(minilm, ["A man is playing a flute."], "native")
    (mean,) = sentence_requests(minilm, ["A man is playing a flute."], "mean")
    assert native.ids == mean.ids and native.ids[0] == 101 and native.ids[-1] == 102
    assert native.reads == ((0, len(native.ids)),)
    assert mean.reads == ((1, len(mean.ids) - 1),)


def test_minilm_native_top_layer_matches_mteb(minilm):
    """The whole pipeline against a number computed elsewhere: MTEB's STS-B test score
    of all-MiniLM-L6-v2 (cosine Spearman, sentence-transformers' pooling) is 0.82032."""
    s = lw.MeasureOptions(n_resamples=10, cache=None)
    scores = lw.sts_benchmark_scores(minilm, ("native",), s)
    top = scores[(scores["top"] == "native") & (scores["layer"] == minilm.spec.n_layers)]
    assert abs(float(top["value"].iloc[0]) - 0.82032) < 0.0015


def test_minilm_pools_natively_from_the_pass_that_serves_eos_and_mean(minilm):

    # [CLS] sentence [SEP]: "eos" reads [SEP], "mean" the sentence, "native" all of it
    assert measure_sentences.sentence_input_groups(minilm) == [("eos", "mean", "native"), ("last",)]
