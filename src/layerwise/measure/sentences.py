"""Sentences: STS Benchmark scores (Figure 4), sentence self-similarity (Figure 5) and the
check of native pooling against a published score (chapter 5).

A sentence vector that is a zero vector at a layer makes what needs its cosines undefined
(NaN) there (its pairs' cosines and so the Spearman over all pairs; the self-similarity
over all sentences); the row's ``note`` names the model, the layer and the sentence
(:mod:`layerwise.measure.undefined`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import data
from ..data.reference import PUBLISHED_STSB
from ..errors import InputError
from ..extract.requests import (
    SENTENCE_SETTINGS,
    Request,
    clean_texts,
    require_pooling,
    sentence_requests,
    unique,
)
from ..extract.states import Extracted, stack
from ..models.spec import LoadedModel
from ..stats import geometry
from ..stats.geometry import cosine_rows
from ..stats.scores import scores_of_cosines
from .common import (
    MeasureOptions,
    as_settings,
    extract_states,
    noted_table,
    over_layers,
    per_layer,
    require_items,
    stack_layers,
    unknown_note,
    with_note,
    zero_vectors,
)
from .undefined import (
    ZERO,
    RowLabels,
    ZeroVectors,
    describe_read,
    needing_items,
    notes_last,
    with_zero_rows,
)


def sentence_input_groups(lm: LoadedModel) -> list[tuple[str, ...]]:
    """The sentence settings of ``lm`` grouped by the input they read (chapter 5).

    "eos" reads the wrapped input (:attr:`~layerwise.models.spec.ModelSpec.wrap_prefix` + sentence +
    ``wrap_suffix``); "last" the bare sentence; "mean" and "native" the model's native
    input (its tokenizer's own prefix + sentence + suffix). Settings whose inputs are the
    same token ids (for CLIP "eos", "mean" and "native"; for GPT-2 "last" and "mean") are
    grouped, so one forward pass serves them all. "native" is listed only for a model that
    defines its pooling (``spec.pooling``).
    """
    spec = lm.spec
    inputs = {
        "eos": (spec.wrap_prefix, spec.wrap_suffix),
        "last": ((), ()),
        "mean": (spec.prefix_ids, spec.suffix_ids),
    }
    if spec.pooling is not None:
        inputs["native"] = inputs["mean"]
    groups: dict[tuple, list[str]] = {}
    for setting, wrap in inputs.items():
        groups.setdefault(wrap, []).append(setting)
    return [tuple(g) for g in groups.values()]


def _sentence_group_states(
    lm: LoadedModel, sentences: list[str], group: tuple[str, ...], s: MeasureOptions
) -> dict[str, Extracted]:
    """Every setting of ``group`` for ``sentences``, from one forward pass per sentence."""

    def requests() -> list[Request]:
        per_setting = [sentence_requests(lm, sentences, st) for st in group]
        merged = []
        for same in zip(*per_setting, strict=True):
            if any(r.ids != same[0].ids for r in same):
                raise RuntimeError(f"{lm.spec.name}: settings {group} do not share their input")
            merged.append(Request(same[0].ids, tuple(r.reads[0] for r in same)))
        return merged

    k = len(group)
    ex = extract_states(lm, requests, f"sentences {'+'.join(group)}", s)
    return {st: ex.take(slice(i, None, k)) for i, st in enumerate(group)}


def sentence_labels(lm: LoadedModel, sentences: Sequence[str], setting: str) -> RowLabels:
    """What each row of :func:`sentence_states` (the same sentences and setting) is: the
    token read (or the span of a mean) and the sentence, for a note."""
    texts = clean_texts(sentences, "sentence")

    def labels(rows: Sequence[int]) -> list[str]:
        chosen = [texts[int(i)] for i in rows]
        reqs = sentence_requests(lm, chosen, setting)
        return [describe_read(lm, t, r.ids, r.reads[0]) for t, r in zip(chosen, reqs, strict=True)]

    return labels


def sentence_states(
    lm: LoadedModel,
    sentences: Sequence[str],
    setting: str,
    s: MeasureOptions,
    *,
    base: Sequence[str] | None = None,
) -> Extracted:
    """One vector per sentence (order of ``sentences``) in a sentence setting.

    Nothing is computed twice: the settings that read the same input
    (:func:`sentence_input_groups`) are extracted together, and a sentence list that
    mostly repeats the sentences of ``base`` (default: the STS Benchmark's unique
    sentences; e.g. the authors' parse, the left sentences only; chapter 6) reads those
    from the extraction of ``base`` and runs only the sentences it adds. Which path is
    taken depends on the texts, never on the cache. Chapter 7 passes its window-filtered
    STS-B sentences as ``base``, so no sentence beyond a model's window is run. An empty
    list of sentences is an :class:`~layerwise.errors.InputError`.
    """
    as_settings(setting, SENTENCE_SETTINGS, "sentence", "sentence_states: setting")
    if setting == "native":
        require_pooling(lm)
    # an empty list would fall to the STS-B path below: the whole set extracted (and
    # cached) for no row of the result
    texts = require_items(
        clean_texts(sentences, "sentence"), "sentence_states: sentences", "sentence"
    )
    (group,) = [g for g in sentence_input_groups(lm) if setting in g]
    if base is None:
        pool = data.sts_benchmark_sentences(data.load_sts_benchmark())
    else:
        pool = unique(clean_texts(base, "sentence"))
    known = set(pool)
    if texts == pool or 2 * sum(t in known for t in texts) < len(texts):
        pool = unique(texts)
    in_pool = set(pool)
    parts = [pool, [t for t in unique(texts) if t not in in_pool]]
    states = stack([_sentence_group_states(lm, part, group, s)[setting] for part in parts if part])
    row = {t: i for i, t in enumerate(parts[0] + parts[1])}
    index = [row[t] for t in texts]
    return states if index == list(range(len(row))) else states.take(index)


def sts_benchmark_scores(
    lm: LoadedModel,
    settings: Sequence[str] = ("eos", "last", "mean"),
    s: MeasureOptions | None = None,
    *,
    pairs: Sequence[data.StsPair] | None = None,
) -> pd.DataFrame:
    """STS Benchmark test: per-layer Spearman of cosine vs gold, each sentence setting (Fig. 4).

    ``pairs`` defaults to the 1,379 test pairs; chapter 6 passes the authors' parse. Fewer
    than three pairs, or no setting, is an :class:`~layerwise.errors.InputError`. Pairs
    that read a sentence holding the tokenizer's unknown token are counted in a ``note``
    column (``unknown_note``), there only when some are.
    """
    s = MeasureOptions() if s is None else s
    settings = as_settings(
        settings, SENTENCE_SETTINGS, "sentence", "sts_benchmark_scores: settings"
    )
    pairs = (
        require_items(pairs, "sts_benchmark_scores: pairs", "pair", at_least=3)
        if pairs is not None
        else data.load_sts_benchmark()
    )
    sentences = data.sts_benchmark_sentences(pairs)
    index = {t: i for i, t in enumerate(sentences)}
    gold = np.array([p.score for p in pairs])
    rows: list[dict] = []
    ia = np.array([index[p.sentence1] for p in pairs], dtype=np.int64)
    ib = np.array([index[p.sentence2] for p in pairs], dtype=np.int64)
    for setting in settings:
        ex = sentence_states(lm, sentences, setting, s)
        rng = s.rng("sts-b", setting)
        labels = sentence_labels(lm, sentences, setting)
        zero: dict = {}

        def measure(view, ex=ex, r=rng, zero=zero):
            fns = with_zero_rows({"cos": lambda x: cosine_rows(x[ia], x[ib], zero_rows="nan")})
            read = over_layers(view, ex, fns)
            zero[view] = read[ZERO]
            return scores_of_cosines(
                stack_layers(read["cos"]),
                gold,
                target_name="gold",
                rng=r,
                n_resamples=s.n_resamples,
                memo=s.memo,
            )

        def notes(view, zero=zero, labels=labels):
            vectors = zero_vectors(lm, view, zero[view], "sentences", len(sentences), labels)
            return [
                vectors.items_note(i, needing_items(found, (ia, ib)), "pairs", "Spearman's rho")
                for i, found in enumerate(vectors.found)
            ]

        rows += per_layer(lm, ex, measure, notes, setting=setting, task="stsb")
    note = unknown_note(lm, [[p.sentence1.strip(), p.sentence2.strip()] for p in pairs], "pairs")
    return notes_last(noted_table(with_note(rows, note)))


def sentence_self_similarity(
    lm: LoadedModel,
    settings: Sequence[str] = ("eos", "last", "mean"),
    s: MeasureOptions | None = None,
    *,
    left_only: bool = False,
) -> pd.DataFrame:
    """Eq. 1 over the unique STS-B test sentences' embeddings, per layer (Fig. 5).

    ``left_only`` reproduces the authors' script, which embeds only the first
    sentence of each pair (methodology note 4).
    """
    s = MeasureOptions() if s is None else s
    settings = as_settings(
        settings, SENTENCE_SETTINGS, "sentence", "sentence_self_similarity: settings"
    )
    pairs = data.load_sts_benchmark()
    if left_only:
        sentences = unique(p.sentence1 for p in pairs)
    else:
        sentences = data.sts_benchmark_sentences(pairs)
    rows: list[dict] = []
    fns = with_zero_rows({"s": lambda x: geometry.self_similarity(x, zero_rows="nan")})
    for setting in settings:
        ex = sentence_states(lm, sentences, setting, s)
        labels = sentence_labels(lm, sentences, setting)
        read: dict = {}

        def measure(view, ex=ex, read=read):
            read[view] = over_layers(view, ex, fns)
            return read[view]["s"]

        def notes(view, read=read, labels=labels):
            found = read[view][ZERO]
            vectors = zero_vectors(lm, view, found, "sentences", len(sentences), labels)
            value = "the mean cosine over all pairs (Eq. 1)"
            return [vectors.sample_note(i, value) for i in range(len(found))]

        rows += per_layer(lm, ex, measure, notes, setting=setting, measure="self_similarity")
    df = pd.DataFrame(rows)
    df["sentences"] = "left only" if left_only else "all unique"
    df["n"] = len(sentences)
    return notes_last(df)


def published_check(models, s=None):
    """For each model with its own pooling and a published STS-B score
    (:data:`layerwise.data.reference.PUBLISHED_STSB`): the top layer's Spearman with the
    ``native`` setting beside the published value (chapter 5). One row per model;
    empty when no model of the run has both."""
    rows = []
    for lm in models.values():
        published = PUBLISHED_STSB.get(lm.spec.source)
        if published is None or lm.spec.pooling is None:
            continue
        scores = sts_benchmark_scores(lm, ("native",), s)
        top = scores[(scores["top"] == "native") & (scores["layer"] == lm.spec.n_layers)].iloc[0]
        rows.append(
            {
                "model": lm.spec.name,
                "pooling": lm.spec.pooling,
                "reproduced (top layer)": top["value"],
                "95% interval": f"{top['low']:.3f} to {top['high']:.3f}",
                "published": published.value,
                "difference": top["value"] - published.value,
                "published in": published.source,
            }
        )
    return pd.DataFrame(rows).set_index("model") if rows else pd.DataFrame()


def sts_pair_cosines(
    lm: LoadedModel,
    setting: str = "eos",
    s: MeasureOptions | None = None,
    *,
    layer: int | None = None,
    pairs: Sequence[data.StsPair] | None = None,
) -> pd.DataFrame:
    """Each STS Benchmark pair with its gold score and the cosine of its two sentence
    vectors at one layer: the items behind one point of Figure 4 (chapter 5).

    ``layer`` defaults to the top layer (native convention); ``pairs`` to the 1,379 test
    pairs. Columns ``genre``, ``sentence1``, ``sentence2``, ``gold``, ``cosine`` and
    ``rank_gap``, the gold score's percentile rank minus the cosine's: positive where the
    model ranks a pair as less similar than people do, negative where it ranks it as more
    similar. A pair with a zero sentence vector has no cosine and no rank gap (NaN), a
    ``note`` says why, and the other pairs are ranked among themselves. The states come
    from :func:`sentence_states`, so a warm cache runs no model.
    """
    s = MeasureOptions() if s is None else s
    pairs = (
        require_items(pairs, "sts_pair_cosines: pairs", "pair")
        if pairs is not None
        else data.load_sts_benchmark()
    )
    layer = lm.spec.n_layers if layer is None else int(layer)
    if not 0 <= layer <= lm.spec.n_layers:
        raise InputError(f"layer {layer} outside 0..{lm.spec.n_layers} of {lm.spec.name}")
    sentences = data.sts_benchmark_sentences(pairs)
    index = {t: i for i, t in enumerate(sentences)}
    x = sentence_states(lm, sentences, setting, s).layer(layer)
    ia = np.array([index[p.sentence1] for p in pairs], dtype=np.int64)
    ib = np.array([index[p.sentence2] for p in pairs], dtype=np.int64)
    df = pd.DataFrame(
        {
            "genre": [p.genre for p in pairs],
            "sentence1": [p.sentence1 for p in pairs],
            "sentence2": [p.sentence2 for p in pairs],
            "gold": [p.score for p in pairs],
            "cosine": geometry.cosine_rows(x[ia], x[ib], zero_rows="nan"),
        }
    )
    zero = geometry.find_zero_rows(x)
    needs = needing_items(zero, (ia, ib))
    # ranks among the pairs whose cosine is defined (all of them without zero vectors)
    ranked = df.loc[~needs]
    df["rank_gap"] = ranked["gold"].rank(pct=True) - ranked["cosine"].rank(pct=True)
    if zero.size:  # a pair with a zero vector has no cosine and no rank: say which and why
        labels = sentence_labels(lm, sentences, setting)
        vectors = ZeroVectors(
            lm.spec.name, "sentences", len(sentences), [zero], labels, [f"layer {layer}"]
        )
        df.loc[needs, "note"] = vectors.note(
            0,
            "a cosine with a zero vector is undefined, so is this pair's, and it has no rank "
            f"gap (the other {int((~needs).sum()):,} pairs are ranked among themselves)",
        )
    return df
