"""Chapter 7's paired differences: for every pair of models, task and layer choice, the
difference of their scores with a paired bootstrap interval
(:func:`~layerwise.stats.paired.paired_difference`).

A model contributes only its per-item values (:func:`paired_values`: cosines, or ValNorm's
effect sizes, ``[n_items, L+1]``), computed from its states one layer at a time; the
pairs are formed from those values (:func:`paired_rows`), so a sweep needs no two models'
states at once. A score that is undefined because an item needs a zero vector has no
difference (NaN), and the row's ``note`` names the zero vectors
(``layerwise.measure.undefined``), from the notes :func:`paired_values` gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from .. import data
from ..errors import InputError
from ..stats.correlation import STATISTICS, best_layer
from ..stats.paired import paired_difference
from ..stats.scores import warn_undefined
from .common import MeasureOptions
from .multi_states import (
    WORD_SETTING,
    ModelStates,
    layer_zero_rows,
    postprocessed_layers,
    stacked,
    task_notes,
    task_values,
)
from .multi_texts import CompareTexts
from .words import task_items, word_tasks

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


def _task_target(task: str, texts: CompareTexts | None = None) -> tuple[np.ndarray, str]:
    """The human target ``[n]`` of a task and how it is correlated (``spearman``/``pearson``),
    over ``texts``' items (default: every item)."""
    if task == "stsb":
        pairs = data.load_sts_benchmark() if texts is None else texts.pairs
        return np.array([p.score for p in pairs]), "spearman"
    items = task_items(task) if texts is None else texts.task_items(task)
    return items.target, items.method


def _choose(scores: np.ndarray, choice: str) -> int:
    """The layer of Table 1's "Best" (highest defined score; ties: lowest layer) or "Top"."""
    best = best_layer(scores)
    return len(scores) - 1 if choice == "top" or best is None else best


def _paired_tasks(sentence_setting: str) -> list[tuple[str, str]]:
    return [(t, WORD_SETTING) for t in word_tasks()] + [("stsb", sentence_setting)]


def paired_values(
    ms: ModelStates,
    methods: Sequence[str] = ("raw", "abtt"),
    sentence_setting: str = "eos",
    notes: dict[str, dict[str, list[str]]] | None = None,
) -> dict[str, dict[str, np.ndarray]]:
    """One model's share of :func:`paired_table`: method -> task -> per-item values
    ``[n_items, L+1]`` (cosines, or effect sizes for ValNorm) after that postprocessing,
    fitted on the model's CWE sample layer by layer (raw states need no fit). The states
    are read one layer at a time
    (:func:`~layerwise.measure.multi_states.postprocessed_layers`). An item that needs a
    zero vector is NaN; ``notes``, when given, is filled with method -> task -> one note
    per layer (``""``: no item needs one), for :func:`paired_rows`."""
    sts, tasks = ms.sts(), ms.tasks()
    per_layer: dict[str, dict] = {m: {} for m in methods}
    zero: dict[str, list] = {m: [] for m in methods}
    for _, method, x in postprocessed_layers(ms, methods, sentences=[sentence_setting]):
        zero[method].append(layer_zero_rows(x))
        for key, v in task_values(x, sts, [sentence_setting], tasks).items():
            per_layer[method].setdefault(key, []).append(v)
        del x  # before the next layer or method is read
    out: dict[str, dict[str, np.ndarray]] = {}
    for method in methods:
        values = stacked(per_layer[method])
        tasks = _paired_tasks(sentence_setting)
        out[method] = {task: values[(task, setting)] for task, setting in tasks}
        warn_undefined(out[method]["valnorm"])
        if notes is not None:
            notes[method] = {
                task: task_notes(ms, (task, setting), zero[method], sts) for task, setting in tasks
            }
    return out


def paired_rows(
    values: Sequence[tuple[str, dict[str, dict[str, np.ndarray]]]],
    s: MeasureOptions,
    methods: Sequence[str] = ("raw", "abtt"),
    sentence_setting: str = "eos",
    texts: CompareTexts | None = None,
    notes: Sequence[dict[str, dict[str, list[str]]]] | None = None,
) -> pd.DataFrame:
    """The paired table from each model's :func:`paired_values`, given as ``(name, values)``
    in the models' order: every pair (A listed before B), method, task and layer choice.
    ``texts``: the texts the values were measured on (default: every item of each task).
    ``notes``: each model's notes from :func:`paired_values` (the same order); a row whose
    score is undefined because of a zero vector gets them in a ``note`` column. Raises
    :class:`~layerwise.errors.InputError` when a model's values do not have one row per
    item of ``texts``."""
    tasks = _paired_tasks(sentence_setting)
    targets = {task: _task_target(task, texts) for task, _ in tasks}
    for name, per_method in values:
        for method in methods:
            for task, _ in tasks:
                got, want = len(per_method[method][task]), len(targets[task][0])
                if got != want:
                    raise InputError(
                        f"paired differences: {name}'s {task} values have {got} items, the "
                        f"texts {want}; the models' parts were measured on other texts. "
                        "Remedy: pass the texts the parts were measured on (texts=...)"
                    )
    said = list(notes) if notes is not None else [{} for _ in values]

    def note_of(i: int, method: str, task: str, layer: int, score: float) -> str:
        if np.isfinite(score):
            return ""
        per_layer = said[i].get(method, {}).get(task, [])
        return per_layer[layer] if layer < len(per_layer) else ""

    rows: list[dict] = []
    for (ia, (name_a, va)), (ib, (name_b, vb)) in combinations(enumerate(values), 2):
        for method in methods:
            for task, setting in tasks:
                xa, xb = va[method][task], vb[method][task]
                target, how = targets[task]
                score_a = STATISTICS[how](xa.T, target)
                score_b = STATISTICS[how](xb.T, target)
                for choice in ("best", "top"):
                    la, lb = _choose(score_a, choice), _choose(score_b, choice)
                    rng = s.rng("paired difference", task, setting, choice)
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
                    row = {
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
                    why = [
                        note_of(ia, method, task, la, score_a[la]),
                        note_of(ib, method, task, lb, score_b[lb]),
                    ]
                    if any(why):
                        row["note"] = "; ".join(dict.fromkeys(w for w in why if w))
                    rows.append(row)
    columns = list(PAIRED_COLUMNS) + (["note"] if any("note" in r for r in rows) else [])
    return pd.DataFrame(rows, columns=columns)


def paired_table(
    states: Sequence[ModelStates],
    s: MeasureOptions,
    methods: Sequence[str] = ("raw", "abtt"),
    sentence_setting: str = "eos",
) -> pd.DataFrame:
    """For every pair of models (A listed before B), task and layer choice (best, top):
    score(A) - score(B) with a paired bootstrap 95% CI, under each postprocessing. Each
    model's states are read one layer at a time, one model after the other."""
    texts = states[0].texts if states else None
    if any(ms.texts != texts for ms in states):
        raise InputError(
            "paired differences need every model measured on the same texts; gather the "
            "states with one CompareTexts (load_states(models, s) does)"
        )
    notes: list[dict] = [{} for _ in states]
    values = [
        (ms.name, paired_values(ms, methods, sentence_setting, notes[i]))
        for i, ms in enumerate(states)
    ]
    return paired_rows(values, s, methods, sentence_setting, texts=texts, notes=notes)
