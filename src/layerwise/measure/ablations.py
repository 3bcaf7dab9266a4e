"""The seven places where the authors' scripts differ from the paper, measured both ways.

Each function returns rows ``deviation, model, quantity, default, alternative,
difference``: the same quantity computed this book's way (the paper's text, except
for note 6 where the scripts' no-space input is what produced the paper's numbers)
and the other way (methodology notes 1-7; chapter 6, ``notebooks/06_discussion``). A
quantity that is undefined (NaN) because it needs a zero vector keeps its row, with a
``note`` naming the zero vectors (carried from the table it is read from, or made here:
:mod:`layerwise.measure.undefined`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import data
from ..errors import InputError
from ..extract.requests import unique
from ..models.spec import LoadedModel
from ..stats import geometry
from ..stats.correlation import best_layer
from ..stats.scores import sc_weat_effect_sizes, scores_of_effect_sizes, warn_undefined
from ..store.cached import cached_value
from ..store.keys import model_identity
from ..tidy import select
from .common import NATIVE, MeasureOptions, alt_top_name, over_layers, stack_layers, zero_vectors
from .cwe import cwe_labels, cwe_sentences, cwe_states
from .sentences import sentence_self_similarity, sts_benchmark_scores
from .undefined import ZERO, notes_last, warn_notes, with_zero_rows
from .words import word_states, word_task_scores

Models = Mapping[str, LoadedModel]


def _row(
    deviation: str,
    lm: LoadedModel,
    quantity: str,
    default: float,
    other: float,
    notes: tuple[str, ...] = (),
) -> dict:
    """A deviation's row; ``notes`` (why a value is undefined) go to a ``note`` column."""
    row = {
        "deviation": deviation,
        "model": lm.spec.name,
        "quantity": quantity,
        "default": float(default),
        "alternative": float(other),
        "difference": float(other - default),
    }
    said = [n for n in dict.fromkeys(notes) if isinstance(n, str) and n]
    return row | ({"note": "; ".join(said)} if said else {})


def _note(rows: pd.DataFrame) -> str:
    """The notes of ``rows`` of a table (its ``note`` column, when it has one), joined."""
    if "note" not in rows:
        return ""
    return "; ".join(dict.fromkeys(n for n in rows["note"] if isinstance(n, str) and n))


def _top_and_note(df: pd.DataFrame, role: str, **eq) -> tuple[float, str]:
    """The top layer's value of the rows ``eq`` of ``role`` (native convention), and its
    note when it is undefined."""
    d = select(df, role=role, top="native", **eq)
    top = d.loc[[d["layer"].idxmax()]]
    value = float(top["value"].iloc[0])
    return value, _note(top) if np.isnan(value) else ""


def topk_definition(models: Models, geometry_table: pd.DataFrame) -> list[dict]:
    """Note 1: top-k share as |x|-largest mean of ratios vs signed-largest ratio of means."""
    rows = []
    for role, lm in models.items():
        for k in (5, 8):
            paper, why = _top_and_note(geometry_table, role, measure=f"top{k}_share")
            script, why_s = _top_and_note(geometry_table, role, measure=f"top{k}_share_script")
            quantity = f"top-{k} share, top layer"
            rows.append(_row("1 top-k share", lm, quantity, paper, script, (why, why_s)))
    return rows


def token_sampling(models: Models, sentences: list[str], s: MeasureOptions) -> list[dict]:
    """Note 2: sampling real tokens only vs letting BOS/EOS positions be drawn."""
    rows = []
    selfsim = with_zero_rows({"s": lambda x: geometry.self_similarity(x, zero_rows="nan")})
    value = "the mean cosine over all pairs (Eq. 1)"
    for lm in models.values():
        notes = []
        read = {}
        for special in (False, True):
            ex = cwe_states(lm, sentences, s, include_special=special)
            read[special] = over_layers(NATIVE, ex, selfsim)
            labels = cwe_labels(lm, sentences, s, include_special=special)
            vectors = zero_vectors(
                lm, NATIVE, read[special][ZERO], "sampled tokens", len(ex), labels
            )
            notes.append([vectors.sample_note(i, value) for i in range(len(vectors.found))])
        real, anyspecial = read[False]["s"], read[True]["s"]
        top = len(real) - 1
        for layer in (0, top // 2, top):
            why = (notes[0][layer], notes[1][layer])
            warn_notes(why)
            rows.append(
                _row(
                    "2 token sampling",
                    lm,
                    f"CWE self-similarity, layer {layer}",
                    real[layer],
                    anyspecial[layer],
                    why,
                )
            )
    return rows


def sts_parsing(models: Models, sts_table: pd.DataFrame, s: MeasureOptions) -> list[dict]:
    """Note 3: STS-B split on tabs (1,379 pairs) vs the authors' read (1,273 pairs).

    The authors' read is Python's ``csv.reader`` in its default comma dialect, fields joined
    back and split on tabs (:func:`layerwise.data.load_sts_benchmark_quoted`).
    """
    quoted = data.load_sts_benchmark_quoted()
    rows = []
    for role, lm in models.items():
        wrong = sts_benchmark_scores(lm, ("eos",), s, pairs=quoted)
        last = wrong[wrong["top"] == "native"].sort_values("layer").iloc[[-1]]
        script = float(last["value"].iloc[0])
        paper, why = _top_and_note(sts_table, role, setting="eos")
        quantity = f"STS-B Spearman, EOS, top layer ({len(quoted):,} vs 1,379 pairs)"
        rows.append(_row("3 STS-B parsing", lm, quantity, paper, script, (why, _note(last))))
    return rows


def sentence_set(models: Models, ss_table: pd.DataFrame, s: MeasureOptions) -> list[dict]:
    """Note 4: self-similarity over all unique STS-B sentences vs the left sentences only."""
    rows = []
    for role, lm in models.items():
        left = sentence_self_similarity(lm, ("eos",), s, left_only=True)
        last = left[left["top"] == "native"].sort_values("layer").iloc[[-1]]
        script = float(last["value"].iloc[0])
        paper, why = _top_and_note(ss_table, role, setting="eos")
        quantity = "EOS sentence self-similarity, top layer"
        rows.append(_row("4 sentence set", lm, quantity, paper, script, (why, _note(last))))
    return rows


def valnorm_ddof(lm: LoadedModel, s: MeasureOptions) -> pd.DataFrame:
    """Note 5, layer by layer, on the model's ``wrapped`` states of the ValNorm words:
    Pearson's r of SC-WEAT effect sizes with the sample SD (``ddof=1``, the default) and
    with the population SD (``ddof=0``), and the largest deviation, over words, of a
    sample-SD effect size divided by its population-SD one from sqrt((n - 1) / n), n = |A| +
    |B| = 50 attribute words: the two SDs differ by that one factor, so r must not change.

    Returns columns ``model``, ``layer``, ``r_sample_sd``, ``r_population_sd``,
    ``ratio_deviation`` (NaN where an effect size is undefined); chapter 4 shows it and
    :func:`valnorm_sd` reads it (chapter 6).
    """
    lex = data.load_valnorm()
    words = unique([w.word for w in lex] + list(data.PLEASANT + data.UNPLEASANT))
    index = {w: i for i, w in enumerate(words)}
    valence = np.array([w.valence for w in lex])
    ex = word_states(lm, words, ["wrapped"], s)["wrapped"]
    it = np.array([index[w.word] for w in lex], dtype=np.int64)
    ia = np.array([index[w] for w in data.PLEASANT], dtype=np.int64)
    ib = np.array([index[w] for w in data.UNPLEASANT], dtype=np.int64)
    fns = {
        d: lambda x, d=d: sc_weat_effect_sizes(
            x[it], x[ia], x[ib], ddof=d, warn=False, zero_rows="nan"
        )
        for d in (1, 0)
    }
    # one layer of states at a time; the effect sizes [n_words, L+1] of every layer after
    e1, e0 = (stack_layers(v) for v in over_layers(NATIVE, ex, fns).values())
    warn_undefined(e1)
    r = {d: [x.value for x in scores_of_effect_sizes(e, valence)] for d, e in ((1, e1), (0, e0))}
    n = len(ia) + len(ib)
    return pd.DataFrame(
        {
            "model": lm.spec.name,
            "layer": np.arange(len(r[1])),
            "r_sample_sd": r[1],
            "r_population_sd": r[0],
            "ratio_deviation": np.abs(e1 / e0 - np.sqrt((n - 1) / n)).max(axis=0),
        }
    )


def valnorm_sd(models: Models, s: MeasureOptions) -> list[dict]:
    """Note 5: SC-WEAT with sample vs population SD (Pearson r must not change), at the
    best layer of :func:`valnorm_ddof`."""
    rows = []
    for lm in models.values():
        ddof = valnorm_ddof(lm, s)
        r1, r0 = list(ddof["r_sample_sd"]), list(ddof["r_population_sd"])
        best = best_layer(r1)
        if best is None:  # every layer undefined: the row stays, undefined
            rows.append(_row("5 ValNorm SD", lm, "ValNorm r, no defined layer", np.nan, np.nan))
            continue
        rows.append(_row("5 ValNorm SD", lm, f"ValNorm r, layer {best}", r1[best], r0[best]))
    return rows


def leading_space(models: Models, words_table: pd.DataFrame, s: MeasureOptions) -> list[dict]:
    """Note 6: the word alone (scripts, default) vs with a leading space (word-initial form)."""
    rows = []
    for role, lm in models.items():
        spaced = word_task_scores(lm, ("bare", "wrapped"), s, leading_space=True)
        spaced["role"] = role
        for setting in ("bare", "wrapped"):
            for task in ("rg65", "valnorm"):
                native = words_table[
                    (words_table["role"] == role) & (words_table["top"] == "native")
                ]
                best = native[(native["setting"] == setting) & (native["task"] == task)]
                alt = spaced[
                    (spaced["top"] == "native")
                    & (spaced["setting"] == setting)
                    & (spaced["task"] == task)
                ]
                why = [_note(g) if g["value"].isna().all() else "" for g in (best, alt)]
                rows.append(
                    _row(
                        "6 leading space",
                        lm,
                        f"{task} best layer, {setting}",
                        best["value"].max(),
                        alt["value"].max(),
                        tuple(why),
                    )
                )
    return rows


#: What the alternative is, per deviation, for the chapter's table.
ALTERNATIVES = {
    "1 top-k share": "signed top-k, ratio of means (scripts)",
    "2 token sampling": "BOS/EOS positions may be drawn (scripts)",
    "3 STS-B parsing": "csv.reader, default comma dialect: 1,273 pairs (scripts)",
    "4 sentence set": "left sentences only (scripts)",
    "5 ValNorm SD": "population SD (either is used)",
    "6 leading space": "' word' with a leading space (ablation)",
    "7 final layer norm": "the other convention at the top layer",
}


def final_norm(models: Models, tables: Mapping[str, pd.DataFrame]) -> list[dict]:
    """Note 7: the top layer with the model's native final-norm convention vs the other."""
    rows = []
    picks = (
        ("cwe_geometry", {"measure": "self_similarity"}, "CWE self-similarity"),
        ("sts", {"setting": "eos"}, "STS-B Spearman, EOS"),
        ("sentence_self_similarity", {"setting": "eos"}, "EOS sentence self-similarity"),
    )
    for role, lm in models.items():
        alt_name = alt_top_name(lm)
        if alt_name is None:
            continue
        for table, eq, label in picks:
            d = select(tables[table], role=role, layer=lm.spec.n_layers, **eq)
            native, alt = (d[d["top"] == top].iloc[[0]] for top in ("native", alt_name))
            why = tuple(_note(x) if x["value"].isna().all() else "" for x in (native, alt))
            rows.append(
                _row(
                    "7 final layer norm",
                    lm,
                    f"{label}, top layer: {lm.spec.top_state} (native) vs {alt_name}",
                    native["value"].iloc[0],
                    alt["value"].iloc[0],
                    why,
                )
            )
    return rows


#: The run's tables :func:`deviation_table` reads.
DEVIATION_TABLES = ("cwe_geometry", "sts", "sentence_self_similarity", "word_tasks")


def deviation_table(
    models: Models, tables: Mapping[str, pd.DataFrame], s: MeasureOptions
) -> pd.DataFrame:
    """The rows of all seven deviations above, with what each alternative is (chapter 6).

    ``tables`` are the run's four tables (``pipeline.tables.compute_table``). Cached in
    ``s.cache`` under the models, the parameters, the tables' contents and the package:
    a warm run reads the rows and loads no states.
    """
    if not models:
        raise InputError("deviation_table: models is empty: give role -> loaded model")
    missing = [t for t in DEVIATION_TABLES if t not in tables]
    if missing:
        raise InputError(
            f"deviation_table: tables lacks {missing}; give the run's tables "
            f"{list(DEVIATION_TABLES)} (pipeline.tables.compute_table)"
        )

    def build() -> pd.DataFrame:
        sentences = cwe_sentences(list(models.values()), s)
        df = pd.DataFrame(
            topk_definition(models, tables["cwe_geometry"])
            + token_sampling(models, sentences, s)
            + sts_parsing(models, tables["sts"], s)
            + sentence_set(models, tables["sentence_self_similarity"], s)
            + valnorm_sd(models, s)
            + leading_space(models, tables["word_tasks"], s)
            + final_norm(models, tables)
        )
        df["alternative is"] = df["deviation"].map(ALTERNATIVES)
        return notes_last(df)

    return cached_value(
        s.cache,
        "deviations",
        build,
        table=True,
        models={role: model_identity(lm) for role, lm in models.items()},
        params={"n_cwe": s.n_cwe, "seed": s.seed, "n_resamples": s.n_resamples},
        tables={name: df.to_csv(index=False) for name, df in sorted(tables.items())},
    )
