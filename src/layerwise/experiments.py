"""One call per measurement of the paper, each returning a tidy table.

Every function takes a loaded model (any Hugging Face text model) and returns a
``pandas.DataFrame`` with one row per (model, setting, layer, ...) and the
columns ``model``, ``layer``, ``top`` and ``value`` (plus ``low``/``high``, the
95% bootstrap interval, for evaluations). Rows for layers ``0..L`` use the
model's native hidden states (``top="native"``); one more row per quantity gives
the top layer in the other final-layer-norm convention (``top="pre_norm"`` or
``"post_norm"``; methodology note 7, chapter 6).

Chapters: CWE geometry -> 3 (anisotropy); word tasks -> 4; STS and sentence
self-similarity -> 5.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import data, geometry
from .cache import Cache, cached_extract, key_of, model_identity, texts_digest
from .errors import InputError
from .evaluation import Score, sts_scores, valnorm_scores, word_similarity_scores
from .extraction import (
    SENTENCE_SETTINGS,
    WORD_SETTINGS,
    Extracted,
    Request,
    TokenSample,
    clean_texts,
    cwe_requests,
    native_inputs,
    sentence_requests,
    unique,
    word_requests,
)
from .extraction import batching_check as extraction_batching_check
from .fingerprint import package_hash
from .models import LoadedModel
from .pooling import native_pooling, require_pooling
from .tokenizers import CLIP_WINDOW, clip_token_counts


@dataclass
class Settings:
    """Run-wide choices: sample sizes, seed, batching, cache, bootstrap resamples."""

    n_cwe: int = 10_000
    seed: int = 0
    batch_size: int = 64
    n_resamples: int = 1000
    cache: Cache | None = field(default_factory=Cache)
    progress: bool | None = None

    def rng(self, salt: int = 0) -> np.random.Generator:
        """A fresh generator for one step, derived from the run's seed."""
        return np.random.default_rng([self.seed, salt])


def _extract(
    lm: LoadedModel,
    requests: Sequence[Request] | Callable[[], Sequence[Request]],
    label: str,
    s: Settings,
    *,
    inputs: str | None = None,
    n_reads: int | None = None,
) -> Extracted:
    return cached_extract(
        lm,
        requests,
        label=label,
        cache=s.cache,
        inputs=inputs,
        n_reads=n_reads,
        batch_size=s.batch_size,
        progress=s.progress,
    )


def alt_top_name(lm: LoadedModel) -> str | None:
    """The final-norm convention the hook captures (the one the native top lacks)."""
    return {"pre_norm": "post_norm", "post_norm": "pre_norm"}.get(lm.spec.top_state)


View = Callable[[Extracted], np.ndarray]
#: The native states ``[n, L+1, d]`` and the alternative top layer as ``[n, 1, d]``.
NATIVE: View = lambda e: e.states  # noqa: E731
ALT_TOP: View = lambda e: e.top_alt[:, None]  # noqa: E731


def _per_layer(
    lm: LoadedModel, ex: Extracted, score: Callable[[View], Iterable], **cols
) -> list[dict]:
    """Rows of ``score`` on every layer, plus the top layer in the other convention.

    ``score`` receives a view (:data:`NATIVE` or :data:`ALT_TOP`) to apply to
    each :class:`Extracted` it reads and returns one value per layer.
    """
    name = lm.spec.name
    rows = [
        {"model": name, "layer": layer, "top": "native", **cols, **_val(v)}
        for layer, v in enumerate(score(NATIVE))
    ]
    alt = alt_top_name(lm)
    if alt is not None and ex.top_alt is not None:
        (v,) = score(ALT_TOP)
        rows.append({"model": name, "layer": lm.spec.n_layers, "top": alt, **cols, **_val(v)})
    return rows


def _val(v: float | Score) -> dict:
    if isinstance(v, Score):
        return {"value": v.value, "low": v.low, "high": v.high, "n": v.n}
    return {"value": float(v)}


# ------------------------------------------------------------------ sentences for CWEs
def real_token_counts(
    lm: LoadedModel, texts: Sequence[str], s: Settings | None = None
) -> list[int]:
    """Tokens of each text alone (no special tokens) in ``lm``'s tokenizer, cached in
    ``s.cache``: the window filter and the CWE sampler need only counts."""
    texts = list(texts)
    compute = lambda: [len(t) for t in lm.tokens_many(clean_texts(texts, "text"))]  # noqa: E731
    if s is None or s.cache is None:
        return compute()
    key = key_of(
        {
            "value": "real token counts",
            "model": model_identity(lm),
            "texts": texts_digest(texts),
            "package": package_hash(),
        }
    )
    return list(s.cache.get_or_compute_json(key, compute))


def window_counters(
    models: Sequence[LoadedModel], texts: Sequence[str], s: Settings | None = None
) -> dict[str, tuple[Callable[[str], int], int]]:
    """Counters for :func:`data.filter_to_window`: CLIP's exact tokenizer (its 77-token
    window always applies) and each model, special tokens included, from cached counts."""
    texts = list(texts)

    def lookup(counts: Sequence[int], extra: int = 0) -> Callable[[str], int]:
        table = dict(zip(texts, counts, strict=True))
        return lambda text: table[text] + extra

    clip = lambda: clip_token_counts(texts)  # noqa: E731
    if s is not None and s.cache is not None:
        key = key_of({"value": "clip counts", "texts": texts_digest(texts), "p": package_hash()})
        clip_counts = s.cache.get_or_compute_json(key, clip)
    else:
        clip_counts = clip()
    counters = {"CLIP (exact tokenizer)": (lookup(clip_counts), CLIP_WINDOW)}
    for lm in models:
        wrap = 2 if lm.spec.native_wrap else 0
        counts = real_token_counts(lm, texts, s)
        counters[lm.spec.name] = (lookup(counts, wrap), lm.spec.max_length)
    return counters


def cwe_sentence_set(models: Sequence[LoadedModel], s: Settings | None = None) -> data.WindowFilter:
    """STS 2012-2016 unique sentences that fit EVERY model's window (chapter 1).

    One set serves all models, so their CWEs come from the same contexts. CLIP's
    77-token window (counted with CLIP's exact tokenizer) always applies, so every
    profile samples from the paper's sentence set. Token counts are cached in ``s``.
    """
    sentences = data.load_sts_sentences()
    counters = window_counters(models, [x.text for x in sentences], s)
    return data.filter_to_window(sentences, counters)


def cwe_sentences(models: Sequence[LoadedModel], s: Settings | None = None) -> list[str]:
    """The texts of :func:`cwe_sentence_set`, cached in ``s.cache``."""
    compute = lambda: [x.text for x in cwe_sentence_set(models, s).kept]  # noqa: E731
    if s is None or s.cache is None:
        return compute()
    key = key_of(
        {
            "value": "cwe_sentences",
            "models": [model_identity(lm) for lm in models],
            "package": package_hash(),
        }
    )
    return list(s.cache.get_or_compute_json(key, compute))


def cwe_sample(
    lm: LoadedModel, sentences: Sequence[str], s: Settings, *, include_special: bool = False
) -> tuple[list[Request], TokenSample]:
    """The CWE sample of a run (its requests and positions), from cached token counts."""
    counts = real_token_counts(lm, sentences, s)
    rng = s.rng(1)
    return cwe_requests(lm, sentences, s.n_cwe, rng, include_special=include_special, counts=counts)


def batching_check(
    lm: LoadedModel, sentences: Sequence[str], s: Settings, setting: str = "mean"
) -> dict:
    """:func:`extraction.batching_check` on ``sentences``, cached: a warm run shows the
    differences and times measured when it was first computed (chapter 2)."""
    compute = lambda: extraction_batching_check(  # noqa: E731
        lm, sentence_requests(lm, sentences, setting), s.batch_size
    )
    if s.cache is None:
        return compute()
    key = key_of(
        {
            "value": "batching check",
            "model": model_identity(lm),
            "texts": texts_digest(sentences, setting=setting, batch_size=s.batch_size),
        }
    )
    return dict(s.cache.get_or_compute_json(key, compute))


# ------------------------------------------------------------------ chapter 3
def cwe_states(
    lm: LoadedModel, sentences: Sequence[str], s: Settings, *, include_special: bool = False
) -> Extracted:
    """Hidden states of ``s.n_cwe`` sampled tokens; the same positions at every layer.

    Real tokens only by default; ``include_special`` also lets the BOS/EOS positions
    be drawn, like the authors' script (methodology note 2).
    """
    # a model whose tokenizer adds no special tokens draws the same sample either way,
    # so it is extracted (and cached) once
    special = include_special and lm.spec.native_wrap

    def make() -> list[Request]:
        return cwe_sample(lm, sentences, s, include_special=special)[0]

    inputs = texts_digest(sentences, n=s.n_cwe, seed=s.seed, special=special)
    return _extract(lm, make, "cwe", s, inputs=inputs, n_reads=s.n_cwe)


CWE_MEASURES: dict[str, Callable[[np.ndarray], Iterable[float]]] = {
    "self_similarity": geometry.self_similarity,
    "top5_share": lambda x: geometry.top_k_share(x, 5),
    "top8_share": lambda x: geometry.top_k_share(x, 8),
    "top5_share_script": lambda x: geometry.top_k_share_script(x, 5),
    "top8_share_script": lambda x: geometry.top_k_share_script(x, 8),
}


def cwe_geometry(
    ex: Extracted, lm: LoadedModel, measures: Sequence[str] | None = None
) -> pd.DataFrame:
    """Self-similarity (Eq. 1) and top-k magnitude shares of CWEs, per layer (Figs 1-2)."""
    rows: list[dict] = []
    names = _as_settings(measures, CWE_MEASURES, "CWE measure") if measures else CWE_MEASURES
    for name in names:
        fn = CWE_MEASURES[name]
        rows += _per_layer(lm, ex, lambda view, fn=fn: fn(view(ex)), measure=name)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ chapter 4
WORD_TASKS = (*data.WORD_SIMILARITY_TASKS, "valnorm")


def word_states(
    lm: LoadedModel,
    words: Sequence[str],
    settings: Sequence[str],
    s: Settings,
    *,
    leading_space: bool = False,
) -> dict[str, Extracted]:
    """States of each word in each word setting: row ``i`` is ``words[i]``.

    The caller's order and repeats are kept (each distinct word is extracted once and
    its row repeated); words are stripped of surrounding whitespace, and a bare string
    (rather than a list of words) is an :class:`~layerwise.errors.InputError`, as is an
    unknown setting. "wrapped" and "eos" read the same input, so they share one forward pass.
    """
    if isinstance(words, str):
        raise InputError(f"word_states needs a list of words, got the single string {words!r}")
    settings = _as_settings(settings, WORD_SETTINGS, "word")
    cleaned = clean_texts(words, "word")
    distinct = unique(cleaned)
    row = {w: i for i, w in enumerate(distinct)}
    expand = np.array([row[w] for w in cleaned], dtype=np.int64)
    out: dict[str, Extracted] = {}
    tag = f"words n={len(distinct)} space={leading_space}"
    inputs = texts_digest(distinct, leading_space=leading_space)
    if "wrapped" in settings or "eos" in settings:

        def both() -> list[Request]:
            last = word_requests(lm, distinct, "wrapped", leading_space=leading_space)
            close = word_requests(lm, distinct, "eos", leading_space=leading_space)
            return [Request(a.ids, a.reads + b.reads) for a, b in zip(last, close, strict=True)]

        n_both = 2 * len(distinct)
        ex = _extract(lm, both, f"{tag} wrapped+eos", s, inputs=inputs, n_reads=n_both)
        out["wrapped"], out["eos"] = ex.take(slice(0, None, 2)), ex.take(slice(1, None, 2))
    if "bare" in settings:
        out["bare"] = _extract(
            lm,
            lambda: word_requests(lm, distinct, "bare", leading_space=leading_space),
            f"{tag} bare",
            s,
            inputs=inputs,
            n_reads=len(distinct),
        )
    if distinct == cleaned:
        return {k: out[k] for k in settings}
    return {k: out[k].take(expand) for k in settings}


def _as_settings(settings: Sequence[str] | str, known: Iterable[str], what: str) -> list[str]:
    """``settings`` as a list, each one checked against ``known`` (InputError listing them)."""
    if isinstance(settings, str):
        settings = [settings]
    settings = list(settings)
    check_settings(settings, known, what)
    return settings


def all_task_words() -> list[str]:
    """Every word the five word tasks need, attribute words included."""
    words: list[str] = []
    for task in data.WORD_SIMILARITY_TASKS:
        for p in data.load_word_pairs(task):
            words += [p.word1, p.word2]
    words += [w.word for w in data.load_valnorm()] + list(data.PLEASANT + data.UNPLEASANT)
    return unique(words)


def word_task_scores(
    lm: LoadedModel,
    settings: Sequence[str] = ("bare", "wrapped", "eos"),
    s: Settings | None = None,
    *,
    tasks: Sequence[str] = WORD_TASKS,
    leading_space: bool = False,
) -> pd.DataFrame:
    """Per-layer scores on RG65, WS353, SL999, SV3500 (Spearman) and ValNorm (Pearson)."""
    s = s or Settings()
    settings = _as_settings(settings, WORD_SETTINGS, "word")
    tasks = _as_settings(tasks, WORD_TASKS, "word task")
    words = all_task_words()
    index = {w: i for i, w in enumerate(words)}
    states = word_states(lm, words, settings, s, leading_space=leading_space)
    rows: list[dict] = []
    for setting, ex in states.items():
        for t, task in enumerate(tasks):
            rng = s.rng(100 + t)
            if task == "valnorm":
                lex = data.load_valnorm()
                tgt = ex.take([index[w.word] for w in lex])
                pos = ex.take([index[w] for w in data.PLEASANT])
                neg = ex.take([index[w] for w in data.UNPLEASANT])
                valence = np.array([w.valence for w in lex])

                def measure(view, tg=tgt, po=pos, ne=neg, val=valence, r=rng):
                    return valnorm_scores(
                        view(tg), view(po), view(ne), val, rng=r, n_resamples=s.n_resamples
                    )
            else:
                pairs = data.load_word_pairs(task)
                a = ex.take([index[p.word1] for p in pairs])
                b = ex.take([index[p.word2] for p in pairs])
                human = np.array([p.score for p in pairs])

                def measure(view, a=a, b=b, h=human, r=rng):
                    return word_similarity_scores(
                        view(a), view(b), h, rng=r, n_resamples=s.n_resamples
                    )

            rows += _per_layer(lm, ex, measure, setting=setting, task=task)
    df = pd.DataFrame(rows)
    df["leading_space"] = leading_space
    return df


# ------------------------------------------------------------------ chapter 5
def sentence_input_groups(lm: LoadedModel) -> list[tuple[str, ...]]:
    """The sentence settings of ``lm`` grouped by the input they read (chapter 5).

    "eos" reads the wrapped input; "last" the bare sentence; "mean" and "native" the
    model's native input, wrapped when its tokenizer wraps. Settings of one group read
    different positions of the same token ids, so one forward pass serves them all.
    "native" is listed only for a model that defines its pooling (pooling.py).
    """
    native_wrap = lm.spec.native_wrap
    wrapped = {"eos": True, "last": False, "mean": native_wrap}
    if native_pooling(lm.spec.source) is not None:
        wrapped["native"] = native_wrap
    return [tuple(st for st in wrapped if wrapped[st] is flag) for flag in (True, False)]


def _sentence_group_states(
    lm: LoadedModel, sentences: list[str], group: tuple[str, ...], s: Settings
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
    ex = _extract(
        lm,
        requests,
        f"sentences {'+'.join(group)}",
        s,
        inputs=texts_digest(sentences, settings=list(group)),
        n_reads=k * len(sentences),
    )
    return {st: ex.take(slice(i, None, k)) for i, st in enumerate(group)}


def _stack(parts: Sequence[Extracted]) -> Extracted:
    alts = [p.top_alt for p in parts]
    alt = None if any(a is None for a in alts) else np.concatenate(alts)
    return Extracted(np.concatenate([p.states for p in parts]), alt)


def sentence_states(
    lm: LoadedModel, sentences: Sequence[str], setting: str, s: Settings
) -> Extracted:
    """One vector per sentence (order of ``sentences``) in a sentence setting.

    Nothing is computed twice: the settings that read the same input
    (:func:`sentence_input_groups`) are extracted together, and a sentence list that
    mostly repeats the STS Benchmark's unique sentences (the authors' parse, the left
    sentences only; chapter 6) reads those from the STS-B extraction and runs only the
    sentences it adds. Which path is taken depends on the texts, never on the cache.
    """
    _as_settings(setting, SENTENCE_SETTINGS, "sentence")
    if setting == "native":
        require_pooling(lm.spec.source)
    texts = clean_texts(sentences, "sentence")
    (group,) = [g for g in sentence_input_groups(lm) if setting in g]
    base = data.sts_benchmark_sentences(data.load_sts_benchmark())
    known = set(base)
    if texts == base or 2 * sum(t in known for t in texts) < len(texts):
        base = unique(texts)
    parts = [base, [t for t in unique(texts) if t not in set(base)]]
    states = _stack([_sentence_group_states(lm, part, group, s)[setting] for part in parts if part])
    row = {t: i for i, t in enumerate(parts[0] + parts[1])}
    index = [row[t] for t in texts]
    return states if index == list(range(len(row))) else states.take(index)


def sts_benchmark_scores(
    lm: LoadedModel,
    settings: Sequence[str] = ("eos", "last", "mean"),
    s: Settings | None = None,
    *,
    pairs: Sequence[data.StsPair] | None = None,
) -> pd.DataFrame:
    """STS Benchmark test: per-layer Spearman of cosine vs gold, each sentence setting (Fig. 4).

    ``pairs`` defaults to the 1,379 test pairs; chapter 6 passes the authors' parse.
    """
    s = s or Settings()
    settings = _as_settings(settings, SENTENCE_SETTINGS, "sentence")
    pairs = list(pairs) if pairs is not None else data.load_sts_benchmark()
    sentences = data.sts_benchmark_sentences(pairs)
    index = {t: i for i, t in enumerate(sentences)}
    gold = np.array([p.score for p in pairs])
    rows: list[dict] = []
    for k, setting in enumerate(settings):
        ex = sentence_states(lm, sentences, setting, s)
        a = ex.take([index[p.sentence1] for p in pairs])
        b = ex.take([index[p.sentence2] for p in pairs])
        rng = s.rng(200 + k)

        def measure(view, a=a, b=b, r=rng):
            return sts_scores(view(a), view(b), gold, rng=r, n_resamples=s.n_resamples)

        rows += _per_layer(lm, ex, measure, setting=setting, task="stsb")
    return pd.DataFrame(rows)


def sentence_self_similarity(
    lm: LoadedModel,
    settings: Sequence[str] = ("eos", "last", "mean"),
    s: Settings | None = None,
    *,
    left_only: bool = False,
) -> pd.DataFrame:
    """Eq. 1 over the unique STS-B test sentences' embeddings, per layer (Fig. 5).

    ``left_only`` reproduces the authors' script, which embeds only the first
    sentence of each pair (methodology note 4).
    """
    s = s or Settings()
    settings = _as_settings(settings, SENTENCE_SETTINGS, "sentence")
    pairs = data.load_sts_benchmark()
    if left_only:
        sentences = unique(p.sentence1 for p in pairs)
    else:
        sentences = data.sts_benchmark_sentences(pairs)
    rows: list[dict] = []
    for setting in settings:
        ex = sentence_states(lm, sentences, setting, s)
        rows += _per_layer(
            lm,
            ex,
            lambda view, ex=ex: geometry.self_similarity(view(ex)),
            setting=setting,
            measure="self_similarity",
        )
    df = pd.DataFrame(rows)
    df["sentences"] = "left only" if left_only else "all unique"
    df["n"] = len(sentences)
    return df


def native_token_counts(lm: LoadedModel, sentences: Sequence[str]) -> np.ndarray:
    """Tokens each sentence takes in the model's native input (special tokens included)."""
    inputs, _ = native_inputs(lm, sentences)
    return np.array([len(ids) for ids in inputs])


def check_settings(settings: Iterable[str], known: Iterable[str], what: str) -> None:
    """Raise an :class:`~layerwise.errors.InputError` listing the choices for an unknown
    setting (or measure, or task) in ``settings``."""
    bad = sorted(set(settings) - set(known), key=str)
    if bad:
        raise InputError(f"unknown {what} setting(s) {bad}; choose from {sorted(known)}")
