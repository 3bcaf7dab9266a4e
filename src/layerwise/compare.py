"""Any number of models side by side: isotropy, rogue dimensions, postprocessing, paired tests.

Chapter 7 (``notebooks/07_beyond.ipynb``) and ``python -m layerwise compare MODEL...``
share these functions. Every table is tidy with a ``model`` column (one row per
model, layer and quantity) and a ``depth`` column (layer / number of blocks) so
models of different depths share an axis; figures draw one line per model.

States are read through :mod:`layerwise.experiments` with the arguments chapters
3-5 use (the CWE sample over the window-filtered STS 2012-2016 sentences, every
task word, the STS-B test sentences), so with a warm extraction cache nothing is
recomputed. The estimators live in :mod:`layerwise.isotropy`,
:mod:`layerwise.postprocess` and :mod:`layerwise.paired`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from . import data, experiments, geometry, isotropy
from .cache import key_of, model_identity
from .evaluation import sc_weat_effect_sizes, sts_scores, valnorm_scores, word_similarity_scores
from .fingerprint import package_hash
from .models import LoadedModel
from .paired import paired_difference
from .postprocess import METHODS, Postprocessor

#: What the comparison reads: word settings for the word tasks (Table 1's CLIP row and
#: GPT-2 "with BOS" row use ``wrapped``) and sentence settings for STS-B.
WORD_SETTING = "wrapped"
WORD_TASKS = experiments.WORD_TASKS
SENTENCE_SETTINGS = ("eos", "mean")
ALIGNMENT_GOLD = 4.0
ROGUE_KS = (1, 3, 10)
TABLES = ("isotropy", "rogue_dimensions", "postprocessing", "paired_differences")
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
    words: np.ndarray  # [n_words, L+1, d], WORD_SETTING, order of experiments.all_task_words()
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
    s: experiments.Settings,
    sentence_settings: Sequence[str] = SENTENCE_SETTINGS,
) -> ModelStates:
    """Read (from the extraction cache when warm) a model's CWE, word and sentence states."""
    cwe = experiments.cwe_states(lm, cwe_sentences, s).states
    words = experiments.word_states(lm, experiments.all_task_words(), (WORD_SETTING,), s)
    sentences = data.sts_benchmark_sentences(data.load_sts_benchmark())
    sent = {
        st: experiments.sentence_states(lm, sentences, st, s).states for st in sentence_settings
    }
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


def isotropy_table(states: Sequence[ModelStates], s: experiments.Settings) -> pd.DataFrame:
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
    words: np.ndarray, sentences: dict[str, np.ndarray], s: experiments.Settings
) -> list[tuple[str, str, list]]:
    """(task, setting, per-layer Scores) for every word task and STS-B, same seeds as ch. 4-5."""
    index = {w: i for i, w in enumerate(experiments.all_task_words())}
    out = []
    for t, task in enumerate(experiments.WORD_TASKS):
        rng = s.rng(100 + t)
        if task == "valnorm":
            lex = data.load_valnorm()
            scores = valnorm_scores(
                words[[index[w.word] for w in lex]],
                words[[index[w] for w in data.PLEASANT]],
                words[[index[w] for w in data.UNPLEASANT]],
                np.array([w.valence for w in lex]),
                rng=rng,
                n_resamples=s.n_resamples,
            )
        else:
            wp = data.load_word_pairs(task)
            scores = word_similarity_scores(
                words[[index[p.word1] for p in wp]],
                words[[index[p.word2] for p in wp]],
                np.array([p.score for p in wp]),
                rng=rng,
                n_resamples=s.n_resamples,
            )
        out.append((task, WORD_SETTING, scores))
    pairs, sindex = _sts_pairs()
    gold = np.array([p.score for p in pairs])
    for k, (setting, x) in enumerate(sentences.items()):
        a, b = x[[sindex[p.sentence1] for p in pairs]], x[[sindex[p.sentence2] for p in pairs]]
        out.append(
            ("stsb", setting, sts_scores(a, b, gold, rng=s.rng(200 + k), n_resamples=s.n_resamples))
        )
    return out


def postprocessing_table(
    states: Sequence[ModelStates], s: experiments.Settings, methods: Sequence[str] = METHODS
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
) -> tuple[np.ndarray, np.ndarray, str]:
    """Per-item values ``[n, L]`` (cosines or effect sizes), the human target, the method."""
    index = {w: i for i, w in enumerate(experiments.all_task_words())}
    if task == "valnorm":
        lex = data.load_valnorm()
        effect = sc_weat_effect_sizes(
            words[[index[w.word] for w in lex]],
            words[[index[w] for w in data.PLEASANT]],
            words[[index[w] for w in data.UNPLEASANT]],
        )
        return effect, np.array([w.valence for w in lex]), "pearson"
    if task == "stsb":
        pairs, sindex = _sts_pairs()
        x = sentences[setting]
        a, b = x[[sindex[p.sentence1] for p in pairs]], x[[sindex[p.sentence2] for p in pairs]]
        return geometry.cosine_rows(a, b), np.array([p.score for p in pairs]), "spearman"
    wp = data.load_word_pairs(task)
    cos = geometry.cosine_rows(
        words[[index[p.word1] for p in wp]], words[[index[p.word2] for p in wp]]
    )
    return cos, np.array([p.score for p in wp]), "spearman"


def _choose(scores: np.ndarray, choice: str) -> int:
    """The layer of Table 1's "Best" (highest defined score; ties: lowest layer) or "Top"."""
    if choice == "top" or np.isnan(scores).all():
        return len(scores) - 1
    return int(np.nanargmax(scores))


def paired_table(
    states: Sequence[ModelStates],
    s: experiments.Settings,
    methods: Sequence[str] = ("raw", "abtt"),
    sentence_setting: str = "eos",
) -> pd.DataFrame:
    """For every pair of models (A listed before B), task and layer choice (best, top):
    score(A) - score(B) with a paired bootstrap 95% CI, under each postprocessing."""
    from .paired import STATISTICS

    tasks = [(t, WORD_SETTING) for t in experiments.WORD_TASKS] + [("stsb", sentence_setting)]
    values: dict[tuple[str, str], dict] = {}
    for ms in states:
        # raw states need no fit (chapter 6 asks for raw only)
        pp = Postprocessor.fit(ms.cwe) if set(methods) - {"raw"} else None
        for method in methods:
            words, x = ms.words, ms.sentences[sentence_setting]
            if method != "raw":
                words, x = pp.transform(words, method), pp.transform(x, method)
            sent = {sentence_setting: x}
            values[(ms.name, method)] = {
                task: _item_values(words, sent, task, setting) for task, setting in tasks
            }
    rows: list[dict] = []
    for a, b in combinations(states, 2):
        for method in methods:
            for t, (task, setting) in enumerate(tasks):
                xa, target, how = values[(a.name, method)][task]
                xb = values[(b.name, method)][task][0]
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
                            "model_a": a.name,
                            "model_b": b.name,
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


def verdict(row: pd.Series) -> str:
    """``"A > B"``, ``"A < B"`` or ``"no clear difference"`` from a paired CI."""
    if not np.isfinite(row["low"]):
        return "undefined"
    if row["low"] > 0:
        return f"{row['model_a']} > {row['model_b']}"
    if row["high"] < 0:
        return f"{row['model_a']} < {row['model_b']}"
    return "no clear difference (CI includes 0)"


# ------------------------------------------------------------------ all of it
def compare_tables(
    models: Sequence[LoadedModel], s: experiments.Settings, log: Callable[[str], None] | None = None
) -> dict[str, pd.DataFrame]:
    """The four tidy tables of :data:`TABLES` for N >= 1 models (paired needs N >= 2).

    Each table is cached like the reproduction's; the models' states
    (:func:`load_states`) are read only when a table is not, so a warm run loads none.
    """
    loaded: list[list[ModelStates]] = []

    def states() -> list[ModelStates]:
        if not loaded:
            loaded.append(load_states(models, s))
        return loaded[0]

    builders = {
        "isotropy": lambda: isotropy_table(states(), s),
        "rogue_dimensions": lambda: rogue_table(states()),
        "postprocessing": lambda: postprocessing_table(states(), s),
        "paired_differences": lambda: paired_table(states(), s),
    }
    out = {}
    for name, build in builders.items():
        if s.cache is None:
            out[name] = build()
        else:
            key = key_of(
                {
                    "compare": name,
                    "models": [model_identity(lm) for lm in models],
                    "params": {"n_cwe": s.n_cwe, "seed": s.seed, "n_resamples": s.n_resamples},
                    "package": package_hash(),
                }
            )
            out[name] = s.cache.get_or_compute_frame(key, build)
        if log:
            log(f"{name}: {len(out[name])} rows")
    return out


# ------------------------------------------------------------------ figures
def _depth_axis(ax, states_n_layers: set[int]) -> None:
    ax.set_xlabel("layer" if len(states_n_layers) == 1 else "relative depth (layer / blocks)")


def plot_layers(df: pd.DataFrame, ylabel: str, **eq):
    """One line per model of ``value`` against depth, rows filtered by ``eq``."""
    import matplotlib.pyplot as plt

    sel = np.ones(len(df), dtype=bool)
    for col, val in eq.items():
        sel &= (df[col] == val).to_numpy()
    sub = df[sel]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    depths = {int(g["layer"].max()) for _, g in sub.groupby("model")}
    x = "layer" if len(depths) == 1 else "depth"
    for model, g in sub.groupby("model", sort=False):
        g = g.sort_values("layer")
        ax.plot(g[x], g["value"], marker="o", ms=3, label=model)
        if "low" in g and g["low"].notna().any():
            ax.fill_between(g[x], g["low"], g["high"], alpha=0.2)
    _depth_axis(ax, depths)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_postprocessing(post: pd.DataFrame, task: str, setting: str):
    """One panel per postprocessing method, one line per model (95% bands)."""
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(post["method"]))
    fig, axes = plt.subplots(1, len(methods), figsize=(3 * len(methods), 3), sharey=True)
    sub = post[(post["task"] == task) & (post["setting"] == setting)]
    x = "layer" if sub.groupby("model")["layer"].max().nunique() == 1 else "depth"
    for ax, method in zip(np.atleast_1d(axes), methods, strict=True):
        for model, g in sub[sub["method"] == method].groupby("model", sort=False):
            g = g.sort_values("layer")
            ax.plot(g[x], g["value"], marker="o", ms=3, label=model)
            if g["low"].notna().any():
                ax.fill_between(g[x], g["low"], g["high"], alpha=0.2)
        ax.set_title(method)
        ax.set_xlabel(x)
    np.atleast_1d(axes)[0].set_ylabel(f"{task} ({setting})")
    np.atleast_1d(axes)[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_uniformity_alignment(iso: pd.DataFrame, sample: str):
    """The uniformity/alignment plane: one path per model through its layers (first layer
    an open circle, top layer a filled star); lower-left is better on both."""
    import matplotlib.pyplot as plt

    sub = iso[iso["sample"] == sample]
    wide = sub.pivot_table(index=["model", "layer"], columns="measure", values="value", sort=False)
    fig, ax = plt.subplots(figsize=(5, 4))
    for model, g in wide.groupby(level="model", sort=False):
        (line,) = ax.plot(g["uniformity"], g["alignment"], marker=".", label=model)
        ax.plot(
            g["uniformity"].iloc[0], g["alignment"].iloc[0], "o", mfc="none", color=line.get_color()
        )
        ax.plot(
            g["uniformity"].iloc[-1], g["alignment"].iloc[-1], "*", ms=12, color=line.get_color()
        )
    ax.set_xlabel("uniformity (lower: more uniform)")
    ax.set_ylabel("alignment, gold >= 4 (lower: closer)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ runs
def available_extras(profile: str) -> tuple[list[str], list[str]]:
    """A profile's chapter 7 extras: (sources to use, notes on the ones skipped).

    An extra is used when it is local, cached or reachable; the check returns at once
    when ``HF_HUB_OFFLINE`` is set (``models.hub_availability``).
    """
    from .models import PROFILE_EXTRAS, hub_availability

    use, notes = [], []
    for source in PROFILE_EXTRAS.get(profile, ()):
        if hub_availability(source) == "unavailable":
            notes.append(f"{source}: skipped (neither cached nor reachable)")
        else:
            use.append(source)
    return use, notes


def load_states(models: Sequence[LoadedModel], s: experiments.Settings) -> list[ModelStates]:
    """States of every model, the CWEs drawn from one sentence set that fits all of them
    (the set of chapter 3 when the models' windows are no shorter than CLIP's)."""
    sentences = experiments.cwe_sentences(list(models), s)
    return [gather_states(lm, sentences, s) for lm in models]


def paired_claims(models: Sequence[LoadedModel], s: experiments.Settings) -> pd.DataFrame:
    """Chapter 6's paired intervals: :func:`paired_table` of the raw states with verdicts,
    cached in ``s.cache`` (a warm run reads the table and loads no states)."""

    def build() -> pd.DataFrame:
        return with_verdicts(paired_table(load_states(models, s), s, methods=("raw",)))

    if s.cache is None:
        return build()
    key = key_of(
        {
            "compare": "paired claims",
            "models": [model_identity(lm) for lm in models],
            "params": {"n_cwe": s.n_cwe, "seed": s.seed, "n_resamples": s.n_resamples},
            "package": package_hash(),
        }
    )
    return s.cache.get_or_compute_frame(key, build)


def run_compare(
    sources: Sequence[str], cfg, out_dir, log: Callable[[str], None] = print
) -> dict[str, pd.DataFrame]:
    """``python -m layerwise compare``: load ``sources``, write the tables to ``out_dir``.

    ``cfg`` is a :class:`layerwise.runs.RunConfig` (scale, seed, device, cache).
    """
    import time

    from . import results
    from .errors import InputError
    from .models import load_model

    if not sources:
        raise InputError("compare needs at least one model source")
    if len(set(sources)) != len(sources):
        raise InputError(f"a model is named twice in {list(sources)}")
    start = time.perf_counter()
    cfg.validate(outputs=False)
    from .runs import ensure_writable_folder

    ensure_writable_folder(Path(out_dir), "output folder (--out)")
    root = cfg.cache().root
    models = [
        load_model(src, device=cfg.device, dtype=cfg.dtype, log=log, cache_dir=root, lazy=True)
        for src in sources
    ]
    s = cfg.settings()
    params = cfg.params() | {"profile": None, "concrete_profile": None, "sources": list(sources)}
    prov = results.provenance({lm.spec.source: lm for lm in models}, params)
    tables = compare_tables(models, s, log)
    for name, df in tables.items():
        results.write_table(df, out_dir, name, prov)
    log(
        f"wrote {len(tables)} tables for {len(models)} models to {out_dir} in "
        f"{time.perf_counter() - start:.1f}s; cache: {s.cache.report()}"
    )
    return tables


def load_extras(cfg, log: Callable[[str], None] | None = print) -> tuple[dict, list[str]]:
    """The profile's chapter 7 extras that can be loaded (name -> model) and skip notes."""
    from .models import load_model

    use, notes = available_extras(cfg.concrete_profile)
    loaded = {}
    root = cfg.cache().root
    for src in use:
        lm = load_model(src, device=cfg.device, dtype=cfg.dtype, log=log, cache_dir=root, lazy=True)
        loaded[lm.spec.name] = lm
    return loaded, notes


# ------------------------------------------------------------------ summaries for the book
def at_top(df: pd.DataFrame, index: Sequence[str], columns: str = "measure") -> pd.DataFrame:
    """Each model's top-layer values, one row per ``index`` and one column per ``columns``."""
    top = df[df["layer"] == df.groupby("model")["layer"].transform("max")]
    return top.pivot_table(index=list(index), columns=columns, values="value", sort=False)


def postprocessing_summary(post: pd.DataFrame) -> pd.DataFrame:
    """Best layer (value, CI, layer) and top layer (value, CI) per model, method, task."""
    from .results import best_and_top

    scored = post[post["task"] != "cwe_self_similarity"].assign(top="native")
    return best_and_top(scored, ["model", "method", "task", "setting"])


def with_verdicts(paired: pd.DataFrame) -> pd.DataFrame:
    """The paired table with a ``verdict`` column read from each interval."""
    out = paired.copy()
    out["verdict"] = [verdict(r) for _, r in out.iterrows()] if len(out) else []
    return out


def advantage_counts(
    paired: pd.DataFrame, choice: str = "best", tasks: Sequence[str] | None = None
) -> pd.DataFrame:
    """Per pair of models and method: on how many tasks A's interval lies above 0, below 0,
    or covers 0 (or the difference is undefined), at the given layer choice."""
    sub = paired[paired["choice"] == choice]
    if tasks is not None:
        sub = sub[sub["task"].isin(tasks)]
    a_wins, b_wins = sub["low"] > 0, sub["high"] < 0
    sub = sub.assign(
        a_better=a_wins,
        b_better=b_wins,
        unclear=~(a_wins | b_wins) & sub["low"].notna(),
        undefined=sub["low"].isna(),
    )
    cols = ["a_better", "b_better", "unclear", "undefined"]
    return sub.groupby(["model_a", "model_b", "method"], sort=False)[cols].sum().astype(int)


def advantage_text(
    paired: pd.DataFrame, method: str, choice: str = "best", tasks: Sequence[str] | None = None
) -> str:
    """'A is ahead on k of n tasks (95% paired CI above 0), B on m; ...' for the first pair."""
    counts = advantage_counts(paired, choice, tasks)
    rows = [(k, r) for k, r in counts.iterrows() if k[2] == method]
    if not rows:
        return "not applicable (fewer than two models)"
    (a, b, _), row = rows[0]
    n = int(row.sum())
    text = (
        f"{a} is ahead on {row['a_better']} of {n} tasks and {b} on {row['b_better']} "
        f"(95% paired interval excluding 0); on {row['unclear']} the interval includes 0"
    )
    return text + (f", and {row['undefined']} are undefined" if row["undefined"] else "")


def survival_verdict(
    paired: pd.DataFrame, after: str = "abtt", tasks: Sequence[str] = experiments.WORD_TASKS
) -> str:
    """Does model A's lead over B (first pair) on ``tasks`` survive postprocessing ``after``?

    Read from the paired intervals at each model's best layer, raw against ``after``.
    """
    counts = advantage_counts(paired, "best", tasks)
    if counts.empty:
        return "not applicable (fewer than two models)"
    a, b = counts.index[0][:2]
    raw, post = counts.loc[(a, b, "raw"), "a_better"], counts.loc[(a, b, after), "a_better"]
    n = int(counts.loc[(a, b, "raw")].sum())
    if raw == 0:
        return f"there is no lead to survive: {a} is ahead of {b} on none of the {n} word tasks"
    if post >= raw:
        how = "it survives"
    elif post > 0:
        how = "it shrinks"
    else:
        how = "it does not survive"
    return f"{how}: {a} is ahead of {b} on {raw} of {n} word tasks raw and on {post} after {after}"


def values_text(values: pd.Series, digits: int = 3) -> str:
    """'model: value; ...', with 'undefined' for NaN."""
    return "; ".join(
        f"{k}: {'undefined' if pd.isna(v) else f'{v:.{digits}f}'}" for k, v in values.items()
    )
