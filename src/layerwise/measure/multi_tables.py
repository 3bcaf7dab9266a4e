"""Chapter 7's per-model tables: isotropy, rogue dimensions and postprocessing.

Each table has one row per model, layer and quantity, a ``model`` column and a ``depth``
column (layer / number of blocks) so models of different depths share an axis. Every
table reads a model's states one layer at a time
(:meth:`~layerwise.measure.multi_states.ModelStates.layers`):
the estimators of :mod:`layerwise.stats` (isotropy, geometry, postprocess, scores) run on
that layer's ``[n, d]`` states, and only their per-layer results (and per-item values,
whose correlations and bootstrap intervals are taken over every layer at once, with the
seeds of chapters 4-5) are kept. A value that needs a zero vector is NaN, and its row's
``note`` names the model, the layer and the token (``layerwise.measure.undefined``);
IsoScore needs no direction, so a zero vector is an ordinary point for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..stats import geometry, isotropy
from ..stats.postprocess import METHODS
from ..stats.scores import scores_of_cosines
from .common import NATIVE, MeasureOptions, over_layers
from .multi_states import (
    ModelStates,
    layer_zero_rows,
    model_rows,
    postprocessed_layers,
    stacked,
    sts_items,
    task_notes,
    task_values,
)
from .multi_texts import CompareTexts
from .undefined import ZERO, needing_items, notes_last, warn_notes, with_zero_rows
from .words import task_items

ROGUE_KS = (1, 3, 10)


# ------------------------------------------------------------------ section 1
def isotropy_table(states: Sequence[ModelStates], s: MeasureOptions) -> pd.DataFrame:
    """IsoScore, uniformity and self-similarity per layer of the CWE sample and the STS-B
    sentence vectors; alignment over STS-B pairs with gold >= 4 (sentence samples only).
    The pairs are those of each model's texts
    (``sts``)."""
    measures = {
        "isoscore": isotropy.isoscore,
        "uniformity": lambda x: isotropy.uniformity(x, zero_rows="nan"),
        "self_similarity": lambda x: geometry.self_similarity(x, zero_rows="nan"),
    }
    what = {
        "uniformity": "the uniformity over all pairs",
        "self_similarity": "the mean cosine over all pairs (Eq. 1)",
    }
    rows: list[dict] = []
    for ms in states:
        sts = ms.sts()
        n_close = len(sts.close_a)
        samples = {"cwe": ms.cwe} | {f"sentences {k}": v for k, v in ms.sentences.items()}
        for sample, ex in samples.items():
            fns = dict(measures)
            if sample != "cwe":
                fns["alignment"] = lambda x, sts=sts: isotropy.alignment(
                    x[sts.close_a], x[sts.close_b], zero_rows="nan"
                )
            values = over_layers(NATIVE, ex, with_zero_rows(fns))
            vectors = ms.zero_vectors(sample, values.pop(ZERO))
            for measure, v in values.items():
                n = n_close if measure == "alignment" else len(ex)
                if measure == "alignment":
                    notes = [
                        vectors.items_note(
                            i, needing_items(f, (sts.close_a, sts.close_b)), "pairs", "the mean"
                        )
                        for i, f in enumerate(vectors.found)
                    ]
                elif measure in what:
                    notes = [vectors.sample_note(i, what[measure]) for i in range(len(v))]
                else:
                    notes = []
                warn_notes(notes)
                rows += model_rows(ms, v, notes, sample=sample, measure=measure, n=n)
    return notes_last(pd.DataFrame(rows))


# ------------------------------------------------------------------ section 2
def rogue_table(states: Sequence[ModelStates], ks: Sequence[int] = ROGUE_KS) -> pd.DataFrame:
    """Per layer: expected cosine of the CWE sample, the share of it held by the top-k
    contributing dimensions, and the index of the largest contributor."""
    rows: list[dict] = []
    fns = with_zero_rows({"c": lambda x: isotropy.cosine_contributions(x, zero_rows="nan")})
    for ms in states:
        read = over_layers(NATIVE, ms.cwe, fns)
        contrib = np.stack(read["c"])  # [L+1, d]: d numbers per layer, not the states
        vectors = ms.zero_vectors("cwe", read[ZERO])
        notes = [
            vectors.sample_note(i, "every dimension's contribution to the expected cosine")
            for i in range(len(contrib))
        ]
        warn_notes(notes)
        shares = isotropy.rogue_shares(contrib, tuple(ks))
        rows += model_rows(ms, contrib.sum(axis=1), notes, measure="expected_cosine")
        for j, k in enumerate(ks):
            rows += model_rows(ms, shares[:, j], notes, measure=f"top{k}_share")
        undefined = np.isnan(contrib).any(axis=1)  # argmax would name the first NaN
        top = np.where(undefined, np.nan, contrib.argmax(axis=1))
        rows += model_rows(ms, top, notes, measure="top_dimension")
    return notes_last(pd.DataFrame(rows))


# ------------------------------------------------------------------ section 3
def task_scores(
    values: dict[tuple[str, str], np.ndarray],
    s: MeasureOptions,
    texts: CompareTexts | None = None,
) -> list[tuple[str, str, list]]:
    """(task, setting, per-layer Scores) for every word task and STS-B setting of ``values``
    (:func:`~layerwise.measure.multi_states.task_values` of each layer, stacked:
    ``[n_items, L+1]``), in its
    order, with the generators of chapters 4-5, named by task and setting (so a task's
    interval here is the one chapter 4 or 5 gives it). The targets are those of
    ``texts``' items (default: every item of each task and every STS-B test pair)."""
    out = []
    word_keys = [key for key in values if key[0] != "stsb"]
    for task, setting in word_keys:
        items = texts.task_items(task) if texts is not None else task_items(task)
        scores = items.score_values(
            values[(task, setting)],
            rng=s.rng("word task", task, setting),
            n_resamples=s.n_resamples,
            memo=s.memo,
        )
        out.append((task, setting, scores))
    gold = (sts_items() if texts is None else sts_items(texts.pairs, texts.sentences)).gold
    sts_keys = [key for key in values if key[0] == "stsb"]
    for task, setting in sts_keys:
        scores = scores_of_cosines(
            values[(task, setting)],
            gold,
            target_name="gold",
            rng=s.rng("sts-b", setting),
            n_resamples=s.n_resamples,
            memo=s.memo,
        )
        out.append((task, setting, scores))
    return out


def postprocessing_table(
    states: Sequence[ModelStates], s: MeasureOptions, methods: Sequence[str] = METHODS
) -> pd.DataFrame:
    """CWE self-similarity and every word task and STS-B at every layer (95% CIs), after
    each postprocessing fitted on the model's CWE sample, layer by layer."""
    rows: list[dict] = []
    for ms in states:
        sts, tasks = ms.sts(), ms.tasks()
        selfsim: dict[str, list[float]] = {m: [] for m in methods}
        per_layer: dict[str, dict] = {m: {} for m in methods}
        zero: dict[str, list] = {m: [] for m in methods}
        for _, method, x in postprocessed_layers(ms, methods, cwe=True):
            selfsim[method].append(geometry.self_similarity(x.cwe, zero_rows="nan"))
            zero[method].append(layer_zero_rows(x))
            for key, v in task_values(x, sts, tasks=tasks).items():
                per_layer[method].setdefault(key, []).append(v)
            del x  # before the next layer or method is read
        for method in methods:
            cwe = ms.zero_vectors("cwe", [z["cwe"] for z in zero[method]])
            notes = [
                cwe.sample_note(i, "the mean cosine over all pairs (Eq. 1)")
                for i in range(len(selfsim[method]))
            ]
            warn_notes(notes)
            rows += model_rows(
                ms,
                selfsim[method],
                notes,
                method=method,
                task="cwe_self_similarity",
                setting="cwe",
            )
            for task, setting, scores in task_scores(stacked(per_layer[method]), s, ms.texts):
                notes = task_notes(ms, (task, setting), zero[method], sts)
                warn_notes(notes)
                for layer, sc in enumerate(scores):
                    row = {
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
                    rows.append(row | ({"note": notes[layer]} if notes[layer] else {}))
    return notes_last(pd.DataFrame(rows))
