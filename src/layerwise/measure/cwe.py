"""Contextual word embeddings (CWEs) and their geometry: chapter 3, Figures 1-2.

The sentence set (STS 2012-2016, filtered to every model's window; chapter 1), the
sample of token positions, and the per-layer measures of :data:`CWE_MEASURES`
(self-similarity, Eq. 1; top-k magnitude shares) on the sampled states. A sampled token
whose state is a zero vector makes the measures that need it undefined (NaN) at that
layer, and the row's ``note`` names it (:mod:`layerwise.measure.undefined`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .. import data
from ..extract.batched import batching_check as extraction_batching_check
from ..extract.requests import Request, TokenSample, clean_texts, cwe_requests, sentence_requests
from ..extract.states import Extracted
from ..models.spec import LoadedModel
from ..models.tokenizers import CLIP_WINDOW, clip_token_counts
from ..stats import geometry
from ..store.cached import cached_value
from ..store.keys import model_identity, texts_digest
from .common import (
    ALT_TOP,
    NATIVE,
    MeasureOptions,
    as_settings,
    extract_states,
    layer_names,
    per_layer,
    require_items,
)
from .undefined import RowLabels, ZeroVectors, describe_read, notes_last, numbered


def real_token_counts(
    lm: LoadedModel, texts: Sequence[str], s: MeasureOptions | None = None
) -> list[int]:
    """Tokens of each text alone (no special tokens) in ``lm``'s tokenizer, cached in
    ``s.cache``: the window filter and the CWE sampler need only counts."""
    texts = list(texts)
    compute = lambda: [len(t) for t in lm.tokens_many(clean_texts(texts, "text"))]  # noqa: E731
    cache = s.cache if s is not None else None
    return list(
        cached_value(
            cache, "real token counts", compute, model=model_identity(lm), texts=texts_digest(texts)
        )
    )


def window_counters(
    models: Sequence[LoadedModel], texts: Sequence[str], s: MeasureOptions | None = None
) -> dict[str, tuple[Callable[[str], int], int]]:
    """Counters for :func:`~layerwise.data.window.filter_to_window`: CLIP's exact
    tokenizer (its 77-token window always applies) and each model, special tokens
    included, from cached counts."""
    texts = list(texts)

    def lookup(counts: Sequence[int], extra: int = 0) -> Callable[[str], int]:
        table = dict(zip(texts, counts, strict=True))
        return lambda text: table[text] + extra

    clip = lambda: clip_token_counts(texts)  # noqa: E731
    cache = s.cache if s is not None else None
    clip_counts = cached_value(cache, "clip counts", clip, texts=texts_digest(texts))
    counters = {"CLIP (exact tokenizer)": (lookup(clip_counts), CLIP_WINDOW)}
    for lm in models:
        wrap = len(lm.spec.prefix_ids) + len(lm.spec.suffix_ids)
        counts = real_token_counts(lm, texts, s)
        counters[lm.spec.name] = (lookup(counts, wrap), lm.spec.max_length)
    return counters


def cwe_sentence_set(
    models: Sequence[LoadedModel], s: MeasureOptions | None = None
) -> data.WindowFilter:
    """STS 2012-2016 unique sentences that fit EVERY model's window (chapter 1).

    One set serves all models, so their CWEs come from the same contexts. CLIP's
    77-token window (counted with CLIP's exact tokenizer) always applies, so every
    profile samples from the paper's sentence set. Token counts are cached in ``s``.
    """
    models = require_items(models, "cwe_sentence_set: models", "loaded model")
    sentences = data.load_sts_sentences()
    counters = window_counters(models, [x.text for x in sentences], s)
    return data.filter_to_window(sentences, counters)


def cwe_sentences(models: Sequence[LoadedModel], s: MeasureOptions | None = None) -> list[str]:
    """The texts of :func:`cwe_sentence_set`, cached in ``s.cache``; no model is an
    :class:`~layerwise.errors.InputError` (the set would be filtered to no window)."""
    models = require_items(models, "cwe_sentences: models", "loaded model")
    compute = lambda: [x.text for x in cwe_sentence_set(models, s).kept]  # noqa: E731
    cache = s.cache if s is not None else None
    models_ids = [model_identity(lm) for lm in models]
    return list(cached_value(cache, "cwe_sentences", compute, models=models_ids))


def _counts_from_corpus(lm: LoadedModel, sentences: Sequence[str], s: MeasureOptions) -> list[int]:
    corpus = [x.text for x in data.load_sts_sentences()]
    known = set(corpus)
    if not all(t in known for t in sentences):
        return real_token_counts(lm, sentences, s)
    table = dict(zip(corpus, real_token_counts(lm, corpus, s), strict=True))
    return [table[t] for t in sentences]


def cwe_sample(
    lm: LoadedModel, sentences: Sequence[str], s: MeasureOptions, *, include_special: bool = False
) -> tuple[list[Request], TokenSample]:
    """The CWE sample of a run (its requests and positions), from cached token counts.

    When every sentence is one of the STS 2012-2016 corpus (the book's sentence set is),
    the counts are looked up in the corpus's counts, which the window filter
    (:func:`cwe_sentence_set`) already computed and cached, so a cold run tokenizes the
    corpus once, not twice; other sentences are counted themselves. The counts are the
    same either way (a text's count does not depend on the list it is in).
    """
    counts = _counts_from_corpus(lm, sentences, s)
    rng = s.rng("cwe sample")
    return cwe_requests(lm, sentences, s.n_cwe, rng, include_special=include_special, counts=counts)


def batching_check(
    lm: LoadedModel, sentences: Sequence[str], s: MeasureOptions, setting: str = "mean"
) -> dict:
    """:func:`~layerwise.extract.batched.batching_check` on ``sentences``, cached: a warm
    run shows the differences and times measured when it was first computed (chapter 2)."""
    compute = lambda: extraction_batching_check(  # noqa: E731
        lm, sentence_requests(lm, sentences, setting), s.batch_size
    )
    params = texts_digest(sentences, setting=setting, batch_size=s.batch_size)
    return dict(
        cached_value(s.cache, "batching check", compute, model=model_identity(lm), texts=params)
    )


def cwe_states(
    lm: LoadedModel, sentences: Sequence[str], s: MeasureOptions, *, include_special: bool = False
) -> Extracted:
    """Hidden states of ``s.n_cwe`` sampled tokens; the same positions at every layer.

    Real tokens only by default; ``include_special`` also lets the BOS/EOS positions
    be drawn, like the authors' script (methodology note 2).
    """
    sentences = require_items(sentences, "cwe_states: sentences", "sentence")
    # a model whose tokenizer adds no special tokens draws the same sample either way,
    # so it is extracted (and cached) once
    special = include_special and lm.spec.native_wrap

    def make() -> list[Request]:
        return cwe_sample(lm, sentences, s, include_special=special)[0]

    return extract_states(lm, make, "cwe", s)


def cwe_labels(
    lm: LoadedModel, sentences: Sequence[str], s: MeasureOptions, *, include_special: bool = False
) -> RowLabels:
    """What each row of :func:`cwe_states` is (the same arguments): the sampled token and
    the sentence it is in (:func:`~layerwise.measure.undefined.describe_read`). The sample
    is drawn again (from the cached counts) only when a row is described."""
    sentences = clean_texts(sentences, "sentence")
    held: list = []

    def labels(rows: Sequence[int]) -> list[str]:
        if not held:
            special = include_special and lm.spec.native_wrap
            requests, sample = cwe_sample(lm, sentences, s, include_special=special)
            held.append(([(r, span) for r in requests for span in r.reads], sample))
        reads, sample = held[0]
        return [
            describe_read(lm, sentences[int(sample.sentence[i])], reads[i][0].ids, reads[i][1])
            for i in rows
        ]

    return labels


#: Chapter 3's measures of the CWE sample by name, each giving one value per layer of
#: ``[n, L, d]`` states (one line here adds a measure to :func:`cwe_geometry`). A measure
#: that needs every vector is NaN for a layer with a zero vector (``zero_rows="nan"``).
CWE_MEASURES: dict[str, Callable[[np.ndarray], Iterable[float]]] = {
    "self_similarity": lambda x: geometry.self_similarity(x, zero_rows="nan"),
    "top5_share": lambda x: geometry.top_k_share(x, 5, zero_rows="nan"),
    "top8_share": lambda x: geometry.top_k_share(x, 8, zero_rows="nan"),
    "top5_share_script": lambda x: geometry.top_k_share_script(x, 5, zero_rows="nan"),
    "top8_share_script": lambda x: geometry.top_k_share_script(x, 8, zero_rows="nan"),
}

#: What each measure of :data:`CWE_MEASURES` that needs every vector is, for its note (the
#: script's ratio of means counts a zero vector as a norm of 0 and needs no cosine).
CWE_NEEDS_EVERY_VECTOR = {
    "self_similarity": "the mean cosine over all pairs (Eq. 1)",
    "top5_share": "the mean of the top-5 shares of all of them",
    "top8_share": "the mean of the top-8 shares of all of them",
}


def cwe_geometry(
    ex: Extracted,
    lm: LoadedModel,
    measures: Sequence[str] | None = None,
    *,
    labels: RowLabels | None = None,
) -> pd.DataFrame:
    """Self-similarity (equation 1) and top-k magnitude shares of CWEs, per layer (Figs 1-2).

    Layer by layer: every measure of a layer's ``[n, d]`` states, then the next layer, so
    states read from the cache (:meth:`~layerwise.extract.states.Extracted.layer`) are
    in memory one layer at a time (peak host memory grows with ``n x d``, not with the
    number of layers). One row per measure and layer, plus the top layer in the other
    final-norm convention, in the order of ``measures`` (None: every measure of
    :data:`CWE_MEASURES`; an empty list is an :class:`~layerwise.errors.InputError`). A
    measure that needs every vector is NaN at a layer with a zero vector, and its row's
    ``note`` names the zero vectors (``labels`` describes the rows: ``cwe_labels``;
    default: their numbers).
    """
    rows: list[dict] = []
    names = (
        CWE_MEASURES
        if measures is None  # an empty list is refused, never read as "all of them"
        else as_settings(measures, CWE_MEASURES, "CWE measure", "cwe_geometry: measures")
    )
    values: dict[str, list[float]] = {name: [] for name in names}
    zero: dict = {NATIVE: []}
    for k in range(ex.n_states):
        x = ex.layer(k)
        zero[NATIVE].append(geometry.find_zero_rows(x))
        for name in names:
            values[name].append(CWE_MEASURES[name](x))
        del x
    zero[ALT_TOP] = [geometry.find_zero_rows(x) for x in ALT_TOP(ex)]
    labels = labels or numbered("CWE sample")

    def notes(view, name: str) -> list[str]:
        found = zero[view]
        vectors = ZeroVectors(
            lm.spec.name,
            "sampled tokens",
            len(ex),
            found,
            labels,
            layer_names(lm, view, len(found)),
        )
        value = CWE_NEEDS_EVERY_VECTOR.get(name)
        if value:
            return [vectors.sample_note(i, value) for i in range(len(found))]
        return [  # the script's ratio of means needs one vector that is not zero
            vectors.note(i, "the ratio of their mean norms is 0 / 0")
            if vectors.zero_count(i) == len(ex)
            else ""
            for i in range(len(found))
        ]

    for name in names:
        fn = CWE_MEASURES[name]
        rows += per_layer(
            lm,
            ex,
            lambda view, name=name, fn=fn: (
                values[name] if view is NATIVE else [fn(x) for x in view(ex)]
            ),
            lambda view, name=name: notes(view, name),
            measure=name,
        )
    return notes_last(pd.DataFrame(rows))
