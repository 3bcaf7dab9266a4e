"""Sentences: STS Benchmark scores (Figure 4), sentence self-similarity (Figure 5) and the
check of native pooling against a published score (chapter 5)."""

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
    over_layers,
    per_layer,
    stack_layers,
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
    STS-B sentences as ``base``, so no sentence beyond a model's window is run.
    """
    as_settings(setting, SENTENCE_SETTINGS, "sentence")
    if setting == "native":
        require_pooling(lm)
    texts = clean_texts(sentences, "sentence")
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

    ``pairs`` defaults to the 1,379 test pairs; chapter 6 passes the authors' parse.
    """
    s = MeasureOptions() if s is None else s
    settings = as_settings(settings, SENTENCE_SETTINGS, "sentence")
    pairs = list(pairs) if pairs is not None else data.load_sts_benchmark()
    sentences = data.sts_benchmark_sentences(pairs)
    index = {t: i for i, t in enumerate(sentences)}
    gold = np.array([p.score for p in pairs])
    rows: list[dict] = []
    ia = np.array([index[p.sentence1] for p in pairs], dtype=np.int64)
    ib = np.array([index[p.sentence2] for p in pairs], dtype=np.int64)
    for setting in settings:
        ex = sentence_states(lm, sentences, setting, s)
        rng = s.rng("sts-b", setting)

        def measure(view, ex=ex, r=rng):
            cos = over_layers(view, ex, {"cos": lambda x: cosine_rows(x[ia], x[ib])})["cos"]
            return scores_of_cosines(
                stack_layers(cos),
                gold,
                target_name="gold",
                rng=r,
                n_resamples=s.n_resamples,
                memo=s.memo,
            )

        rows += per_layer(lm, ex, measure, setting=setting, task="stsb")
    return pd.DataFrame(rows)


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
    settings = as_settings(settings, SENTENCE_SETTINGS, "sentence")
    pairs = data.load_sts_benchmark()
    if left_only:
        sentences = unique(p.sentence1 for p in pairs)
    else:
        sentences = data.sts_benchmark_sentences(pairs)
    rows: list[dict] = []
    for setting in settings:
        ex = sentence_states(lm, sentences, setting, s)
        rows += per_layer(
            lm,
            ex,
            lambda view, ex=ex: over_layers(view, ex, {"s": geometry.self_similarity})["s"],
            setting=setting,
            measure="self_similarity",
        )
    df = pd.DataFrame(rows)
    df["sentences"] = "left only" if left_only else "all unique"
    df["n"] = len(sentences)
    return df


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
    similar. The states come from :func:`sentence_states`, so a warm cache runs no model.
    """
    s = MeasureOptions() if s is None else s
    pairs = list(pairs) if pairs is not None else data.load_sts_benchmark()
    layer = lm.spec.n_layers if layer is None else int(layer)
    if not 0 <= layer <= lm.spec.n_layers:
        raise InputError(f"layer {layer} outside 0..{lm.spec.n_layers} of {lm.spec.name}")
    sentences = data.sts_benchmark_sentences(pairs)
    index = {t: i for i, t in enumerate(sentences)}
    x = sentence_states(lm, sentences, setting, s).layer(layer)
    a = x[[index[p.sentence1] for p in pairs]]
    b = x[[index[p.sentence2] for p in pairs]]
    df = pd.DataFrame(
        {
            "genre": [p.genre for p in pairs],
            "sentence1": [p.sentence1 for p in pairs],
            "sentence2": [p.sentence2 for p in pairs],
            "gold": [p.score for p in pairs],
            "cosine": geometry.cosine_rows(a, b),
        }
    )
    df["rank_gap"] = df["gold"].rank(pct=True) - df["cosine"].rank(pct=True)
    return df
