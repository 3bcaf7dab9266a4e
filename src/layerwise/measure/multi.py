"""Any number of models side by side: isotropy, rogue dimensions, postprocessing, paired tests.

Chapter 7 (``notebooks/07_beyond.ipynb``) and ``python -m layerwise compare MODEL...``
share these functions. Every table is tidy with a ``model`` column (one row per
model, layer and quantity) and a ``depth`` column (layer / number of blocks) so
models of different depths share an axis.

States are read with the arguments chapters 3-5 use (the CWE sample over the
window-filtered STS 2012-2016 sentences, every task word, the STS-B test sentences), so
with a warm extraction cache nothing is recomputed. The estimators live in
:mod:`layerwise.stats` (isotropy, postprocess, paired).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from .. import data
from ..models.spec import LoadedModel
from ..stats import geometry, isotropy
from ..stats.correlation import STATISTICS, best_layer
from ..stats.paired import paired_difference
from ..stats.postprocess import METHODS, Postprocessor
from ..stats.scores import sc_weat_effect_sizes, sts_scores
from ..store.cached import cached_value
from ..store.keys import model_identity, texts_digest
from .common import MeasureOptions
from .cwe import cwe_sentences, cwe_states
from .sentences import sentence_states
from .words import WORD_TASKS, all_task_words, task_items, word_states

#: What the comparison reads: word settings for the word tasks (Table 1's CLIP row and
#: GPT-2 "with BOS" row use ``wrapped``) and sentence settings for STS-B.
WORD_SETTING = "wrapped"
COMPARED_SENTENCE_SETTINGS = ("eos", "mean")
ALIGNMENT_GOLD = 4.0
ROGUE_KS = (1, 3, 10)
#: The tables :func:`compare_tables` returns (and ``compare`` writes), in that order.
COMPARE_TABLES = ("isotropy", "rogue_dimensions", "postprocessing", "paired_differences")
PAIRED_COLUMNS = (
    "model_a",
    "model_b",
    "method",
    "task",
    "setting",
    "choice",
    "layer_a",
    "layer_b",
    "score_a",
    "score_b",
    "difference",
    "low",
    "high",
    "n",
)


@dataclass
class ModelStates:
    """One model's native hidden states for everything chapter 7 measures."""

    lm: LoadedModel
    cwe: np.ndarray  # [n_cwe, L+1, d]
    words: np.ndarray  # [n_words, L+1, d], WORD_SETTING, order of all_task_words()
    sentences: dict[str, np.ndarray]  # setting -> [n_sentences, L+1, d]

    @property
    def name(self) -> str:
        return self.lm.spec.name

    @property
    def n_layers(self) -> int:
        return self.lm.spec.n_layers


def gather_states(
    lm: LoadedModel,
    cwe_sentences: Sequence[str],
    s: MeasureOptions,
    sentence_settings: Sequence[str] = COMPARED_SENTENCE_SETTINGS,
) -> ModelStates:
    """Read (from the extraction cache when warm) a model's CWE, word and sentence states."""
    cwe = cwe_states(lm, cwe_sentences, s).states
    words = word_states(lm, all_task_words(), (WORD_SETTING,), s)
    sentences = data.sts_benchmark_sentences(data.load_sts_benchmark())
    sent = {st: sentence_states(lm, sentences, st, s).states for st in sentence_settings}
    return ModelStates(lm, cwe, words[WORD_SETTING].states, sent)


def _rows(ms: ModelStates, values: Sequence[float], **cols) -> list[dict]:
    return [
        {"model": ms.name, "layer": layer, "depth": layer / ms.n_layers, **cols, "value": float(v)}
        for layer, v in enumerate(values)
    ]


# ------------------------------------------------------------------ section 1
def _sts_pairs() -> tuple[list[data.StsPair], dict[str, int]]:
    pairs = data.load_sts_benchmark()
    index = {t: i for i, t in enumerate(data.sts_benchmark_sentences(pairs))}
    return pairs, index


def isotropy_table(states: Sequence[ModelStates], s: MeasureOptions) -> pd.DataFrame:
    """IsoScore, uniformity and self-similarity per layer of the CWE sample and the STS-B
    sentence vectors; alignment over STS-B pairs with gold >= 4 (sentence samples only)."""
    pairs, index = _sts_pairs()
    close = [p for p in pairs if p.score >= ALIGNMENT_GOLD]
    ia, ib = [index[p.sentence1] for p in close], [index[p.sentence2] for p in close]
    rows: list[dict] = []
    for ms in states:
        samples = {"cwe": ms.cwe} | {f"sentences {k}": v for k, v in ms.sentences.items()}
        for sample, x in samples.items():
            for measure, fn in (
                ("isoscore", isotropy.isoscore),
                ("uniformity", isotropy.uniformity),
                ("self_similarity", geometry.self_similarity),
            ):
                rows += _rows(ms, fn(x), sample=sample, measure=measure, n=len(x))
            if sample != "cwe":
                rows += _rows(
                    ms,
                    isotropy.alignment(x[ia], x[ib]),
                    sample=sample,
                    measure="alignment",
                    n=len(close),
                )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ section 2
def rogue_table(states: Sequence[ModelStates], ks: Sequence[int] = ROGUE_KS) -> pd.DataFrame:
    """Per layer: expected cosine of the CWE sample, the share of it held by the top-k
    contributing dimensions, and the index of the largest contributor."""
    rows: list[dict] = []
    for ms in states:
        contrib = isotropy.cosine_contributions(ms.cwe)
        shares = isotropy.rogue_shares(contrib, tuple(ks))
        rows += _rows(ms, contrib.sum(axis=1), measure="expected_cosine")
        for j, k in enumerate(ks):
            rows += _rows(ms, shares[:, j], measure=f"top{k}_share")
        rows += _rows(ms, contrib.argmax(axis=1), measure="top_dimension")
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ section 3
def _task_scores(
    words: np.ndarray, sentences: dict[str, np.ndarray], s: MeasureOptions
) -> list[tuple[str, str, list]]:
    """(task, setting, per-layer Scores) for every word task and STS-B, same seeds as ch. 4-5."""
    out = []
    for t, task in enumerate(WORD_TASKS):
        items = task_items(task)
        scores = items.scores(
            [words[r] for r in items.rows],
            rng=s.rng(100 + t),
            n_resamples=s.n_resamples,
            memo=s.memo,
        )
        out.append((task, WORD_SETTING, scores))
    pairs, sindex = _sts_pairs()
    gold = np.array([p.score for p in pairs])
    for k, (setting, x) in enumerate(sentences.items()):
        a, b = x[[sindex[p.sentence1] for p in pairs]], x[[sindex[p.sentence2] for p in pairs]]
        scores = sts_scores(a, b, gold, rng=s.rng(200 + k), n_resamples=s.n_resamples, memo=s.memo)
        out.append(("stsb", setting, scores))
    return out


def postprocessing_table(
    states: Sequence[ModelStates], s: MeasureOptions, methods: Sequence[str] = METHODS
) -> pd.DataFrame:
    """CWE self-similarity and every word task and STS-B at every layer (95% CIs), after
    each postprocessing fitted on the model's CWE sample, layer by layer."""
    rows: list[dict] = []
    for ms in states:
        pp = Postprocessor.fit(ms.cwe)
        for method in methods:
            cwe = pp.transform(ms.cwe, method)
            rows += _rows(
                ms,
                geometry.self_similarity(cwe),
                method=method,
                task="cwe_self_similarity",
                setting="cwe",
            )
            words = pp.transform(ms.words, method)
            sent = {k: pp.transform(v, method) for k, v in ms.sentences.items()}
            for task, setting, scores in _task_scores(words, sent, s):
                for layer, sc in enumerate(scores):
                    rows.append(
                        {
                            "model": ms.name,
                            "layer": layer,
                            "depth": layer / ms.n_layers,
                            "method": method,
                            "task": task,
                            "setting": setting,
                            "value": sc.value,
                            "low": sc.low,
                            "high": sc.high,
                            "n": sc.n,
                        }
                    )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ section 4
def _item_values(
    words: np.ndarray, sentences: dict[str, np.ndarray], task: str, setting: str
) -> np.ndarray:
    """Per-item values ``[n, L]`` (cosines or effect sizes) of a task, in the order of
    :func:`_task_target`'s target."""
    if task == "stsb":
        pairs, sindex = _sts_pairs()
        x = sentences[setting]
        a, b = x[[sindex[p.sentence1] for p in pairs]], x[[sindex[p.sentence2] for p in pairs]]
        return geometry.cosine_rows(a, b)
    items = task_items(task)
    arrays = [words[r] for r in items.rows]
    if items.method == "pearson":
        return sc_weat_effect_sizes(*arrays)
    return geometry.cosine_rows(*arrays)


def _task_target(task: str) -> tuple[np.ndarray, str]:
    """The human target ``[n]`` of a task and how it is correlated (``spearman``/``pearson``)."""
    if task == "stsb":
        return np.array([p.score for p in data.load_sts_benchmark()]), "spearman"
    items = task_items(task)
    return items.target, items.method


def _choose(scores: np.ndarray, choice: str) -> int:
    """The layer of Table 1's "Best" (highest defined score; ties: lowest layer) or "Top"."""
    best = best_layer(scores)
    return len(scores) - 1 if choice == "top" or best is None else best


def _paired_tasks(sentence_setting: str) -> list[tuple[str, str]]:
    return [(t, WORD_SETTING) for t in WORD_TASKS] + [("stsb", sentence_setting)]


def paired_values(
    ms: ModelStates, methods: Sequence[str] = ("raw", "abtt"), sentence_setting: str = "eos"
) -> dict[str, dict[str, np.ndarray]]:
    """One model's share of :func:`paired_table`: method -> task -> per-item values
    ``[n_items, L+1]`` (cosines, or effect sizes for ValNorm) after that postprocessing,
    fitted on the model's CWE sample (raw states need no fit)."""
    pp = Postprocessor.fit(ms.cwe) if set(methods) - {"raw"} else None
    out: dict[str, dict[str, np.ndarray]] = {}
    for method in methods:
        words, x = ms.words, ms.sentences[sentence_setting]
        if method != "raw":
            words, x = pp.transform(words, method), pp.transform(x, method)
        sent = {sentence_setting: x}
        out[method] = {
            task: _item_values(words, sent, task, setting)
            for task, setting in _paired_tasks(sentence_setting)
        }
    return out


def paired_rows(
    values: Sequence[tuple[str, dict[str, dict[str, np.ndarray]]]],
    s: MeasureOptions,
    methods: Sequence[str] = ("raw", "abtt"),
    sentence_setting: str = "eos",
) -> pd.DataFrame:
    """The paired table from each model's :func:`paired_values`, given as ``(name, values)``
    in the models' order: every pair (A listed before B), method, task and layer choice."""
    tasks = _paired_tasks(sentence_setting)
    targets = {task: _task_target(task) for task, _ in tasks}
    rows: list[dict] = []
    for (name_a, va), (name_b, vb) in combinations(values, 2):
        for method in methods:
            for t, (task, setting) in enumerate(tasks):
                xa, xb = va[method][task], vb[method][task]
                target, how = targets[task]
                score_a = STATISTICS[how](xa.T, target)
                score_b = STATISTICS[how](xb.T, target)
                for choice in ("best", "top"):
                    la, lb = _choose(score_a, choice), _choose(score_b, choice)
                    rng = s.rng(300 + 10 * t + (choice == "top"))
                    if not (np.isfinite(score_a[la]) and np.isfinite(score_b[lb])):
                        d = None  # an undefined score (e.g. NaN effect sizes) has no difference
                    else:
                        d = paired_difference(
                            xa[:, la],
                            xb[:, lb],
                            target,
                            method=how,
                            rng=rng,
                            n_resamples=s.n_resamples,
                        )
                    rows.append(
                        {
                            "model_a": name_a,
                            "model_b": name_b,
                            "method": method,
                            "task": task,
                            "setting": setting,
                            "choice": choice,
                            "layer_a": la,
                            "layer_b": lb,
                            "score_a": float(score_a[la]),
                            "score_b": float(score_b[lb]),
                            "difference": d.value if d else np.nan,
                            "low": d.low if d else np.nan,
                            "high": d.high if d else np.nan,
                            "n": len(target),
                        }
                    )
    return pd.DataFrame(rows, columns=list(PAIRED_COLUMNS))


def paired_table(
    states: Sequence[ModelStates],
    s: MeasureOptions,
    methods: Sequence[str] = ("raw", "abtt"),
    sentence_setting: str = "eos",
) -> pd.DataFrame:
    """For every pair of models (A listed before B), task and layer choice (best, top):
    score(A) - score(B) with a paired bootstrap 95% CI, under each postprocessing."""
    values = [(ms.name, paired_values(ms, methods, sentence_setting)) for ms in states]
    return paired_rows(values, s, methods, sentence_setting)


# ------------------------------------------------------------------ all of it
@dataclass
class ModelParts:
    """One model's share of the four tables of :data:`COMPARE_TABLES`: its rows of the
    isotropy, rogue-dimension and postprocessing tables, and its per-item values for the
    paired table (``paired_values``). A sweep computes one per model, anywhere (a worker
    of a cluster), and ``assemble`` joins them into the tables of the models together."""

    name: str
    isotropy: pd.DataFrame
    rogue_dimensions: pd.DataFrame
    postprocessing: pd.DataFrame
    paired: dict[str, dict[str, np.ndarray]]


def _part_params(lm: LoadedModel, sentences: Sequence[str], s: MeasureOptions) -> dict:
    return {
        "model": model_identity(lm),
        "sentences": texts_digest(sentences),
        "params": {"n_cwe": s.n_cwe, "seed": s.seed, "n_resamples": s.n_resamples},
    }


def model_parts(lm: LoadedModel, sentences: Sequence[str], s: MeasureOptions) -> ModelParts:
    """``lm``'s :class:`ModelParts` over the CWE sentence set ``sentences``, each part kept
    in ``s.cache`` (keyed by the model's identity, the sentences, the sample sizes and the
    package's code): a model whose parts are cached reads no states and no weights, so an
    interrupted sweep resumes where it stopped."""
    key = _part_params(lm, sentences, s)
    held: list[ModelStates] = []

    def states() -> list[ModelStates]:
        if not held:
            held.append(gather_states(lm, sentences, s))
        return held

    def table(name: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        return cached_value(s.cache, f"compare part {name}", build, table=True, **key)

    iso = table("isotropy", lambda: isotropy_table(states(), s))
    rogue = table("rogue_dimensions", lambda: rogue_table(states()))
    post = table("postprocessing", lambda: postprocessing_table(states(), s))
    encoded = cached_value(
        s.cache,
        "compare part paired values",
        lambda: {
            method: {task: v.tolist() for task, v in tasks.items()}
            for method, tasks in paired_values(states()[0]).items()
        },
        **key,
    )
    paired = {
        method: {task: np.asarray(v, dtype=np.float64) for task, v in tasks.items()}
        for method, tasks in encoded.items()
    }
    return ModelParts(lm.spec.name, iso, rogue, post, paired)


def assemble(parts: Sequence[ModelParts], s: MeasureOptions) -> dict[str, pd.DataFrame]:
    """The four tables of :data:`COMPARE_TABLES` from the models' parts, in their order:
    the same rows, in the same order, as the models measured together."""

    def joined(name: str) -> pd.DataFrame:
        return pd.concat([getattr(p, name) for p in parts], ignore_index=True)

    return {
        "isotropy": joined("isotropy"),
        "rogue_dimensions": joined("rogue_dimensions"),
        "postprocessing": joined("postprocessing"),
        "paired_differences": paired_rows([(p.name, p.paired) for p in parts], s),
    }


def compare_tables(
    models: Sequence[LoadedModel],
    s: MeasureOptions,
    log: Callable[[str], None] | None = None,
    parts: Sequence[ModelParts] | None = None,
) -> dict[str, pd.DataFrame]:
    """The four tidy tables of :data:`COMPARE_TABLES` for N >= 1 models (paired needs N >= 2).

    Each table is cached like the reproduction's, and so is each model's share of them
    (:func:`model_parts`); the models' states are read only when neither is, so a warm run
    loads none. ``parts``: the models' :class:`ModelParts`, already computed (by the workers
    of a sweep), in the order of ``models``.
    """
    held: list[dict[str, pd.DataFrame]] = []

    def tables() -> dict[str, pd.DataFrame]:
        if not held:
            got = parts
            if got is None:
                sentences = cwe_sentences(list(models), s)
                got = [model_parts(lm, sentences, s) for lm in models]
            held.append(assemble(got, s))
        return held[0]

    out = {}
    ids = [model_identity(lm) for lm in models]
    params = {"n_cwe": s.n_cwe, "seed": s.seed, "n_resamples": s.n_resamples}
    for name in COMPARE_TABLES:
        out[name] = cached_value(
            s.cache,
            f"compare {name}",
            lambda name=name: tables()[name],
            table=True,
            models=ids,
            params=params,
        )
        if log:
            log(f"{name}: {len(out[name])} rows")
    return out


def load_states(models: Sequence[LoadedModel], s: MeasureOptions) -> list[ModelStates]:
    """States of every model, the CWEs drawn from one sentence set that fits all of them
    (the set of chapter 3 when the models' windows are no shorter than CLIP's)."""
    sentences = cwe_sentences(list(models), s)
    return [gather_states(lm, sentences, s) for lm in models]
