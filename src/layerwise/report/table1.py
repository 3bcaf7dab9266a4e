"""Table 1 (best and top layer of every word task) and the checks of the paper's claims.

Layer choice, once: :func:`best_and_top` gives, per group, the best layer (highest
defined score; ties: the lowest layer) and the top layer, with their intervals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data import reference
from ..errors import InputError
from ..stats.correlation import best_layer
from ..tidy import select

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------ Table 1
def _undefined_note(layers: list[int]) -> str:
    """``"undefined (NaN) at layer(s) 3, 12"``, or ``""`` when every layer is defined."""
    if not layers:
        return ""
    return "undefined (NaN) at layer(s) " + ", ".join(str(layer) for layer in layers)


def _zero_notes(rows: pd.DataFrame) -> str:
    """``"; <note>"`` for each distinct ``note`` of the undefined rows of ``rows`` (why a
    value needed a zero vector: :mod:`layerwise.measure.undefined`); ``""`` without."""
    if "note" not in rows:
        return ""
    why = rows.loc[rows["value"].isna(), "note"]
    return "".join(f"; {n}" for n in dict.fromkeys(why) if isinstance(n, str) and n)


def best_and_top(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Best layer (value, layer) and top layer value per group, native hidden states.

    The best layer is the highest value over the *defined* layers; the top value is the
    last layer's, NaN when that layer is undefined. No group is dropped: a group whose
    every layer is undefined gets NaN values and no best layer (``<NA>``), and the column
    ``undefined_layers`` names the layers whose value is NaN (also logged as a warning),
    followed by the ``note`` of those rows when ``df`` has one (a value that needed a zero
    vector: :mod:`layerwise.measure.undefined`).
    """
    native = df[df["top"] == "native"]
    rows = []
    for key, g in native.groupby(by, sort=False):
        keys = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        g = g.sort_values("layer")
        undefined = [int(layer) for layer in g.loc[g["value"].isna(), "layer"]]
        said = _undefined_note(undefined) + _zero_notes(g)
        if undefined:
            where = ", ".join(f"{k}={v}" for k, v in keys.items())
            logger.warning("%s: %s", where, said)
        index = best_layer(g["value"].to_numpy())
        best = None if index is None else g.iloc[index]
        top = g.iloc[-1]
        rows.append(
            keys
            | {
                "best": np.nan if best is None else best["value"],
                "best_low": np.nan if best is None else best.get("low", np.nan),
                "best_high": np.nan if best is None else best.get("high", np.nan),
                "best_layer": pd.NA if best is None else int(best["layer"]),
                "top": top["value"],
                "top_low": top.get("low", np.nan),
                "top_high": top.get("high", np.nan),
                "top_layer": int(top["layer"]),
                "undefined_layers": said,
            }
        )
    out = pd.DataFrame(rows)
    if not out.empty:
        out["best_layer"] = out["best_layer"].astype("Int64")
    return out


def table1(words: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Table 1 with the paper beside the reproduction.

    ``words`` maps role (``contrastive``/``causal``) to that model's
    :func:`~layerwise.measure.words.word_task_scores` table. One row per paper row
    and task: reproduced best (layer) and top, the paper's, and the differences.
    A task whose top (or every) layer is undefined keeps its row with NaN, and the
    ``note`` column says which layers were undefined. A task the paper does not report
    (a dataset registered at run time) follows the paper's tasks in each row, with NaN
    in the paper's columns and the differences, and its ``note`` says so. A task whose word
    table has a note (words that become the tokenizer's unknown token) carries it too.
    """
    if not words:
        raise InputError(
            "table1: words is empty: give role -> word_task_scores table, for "
            f"{sorted({role for role, _ in reference.TABLE1_ROWS.values()})}"
        )
    ours = {role: best_and_top(df, ["setting", "task"]) for role, df in words.items()}
    rows = []
    for label, (role, setting) in reference.TABLE1_ROWS.items():
        mine = ours.get(role)
        if mine is None or mine.empty:
            continue
        mine = mine[mine["setting"] == setting]
        paper = reference.TABLE1[label]
        extra = [t for t in dict.fromkeys(mine["task"]) if t not in paper]
        for task in [*paper, *extra]:
            hit = mine[mine["task"] == task]
            if hit.empty:
                continue
            r = hit.iloc[0]
            best, layer, top = paper.get(task, (np.nan, pd.NA, np.nan))
            note = r["undefined_layers"] if task in paper else _NOT_REPORTED
            if task not in paper and r["undefined_layers"]:
                note += "; " + r["undefined_layers"]
            told = task_notes(words[role]).get((setting, task), "")
            note = "; ".join(n for n in (note, told) if n)
            rows.append(
                {
                    "row": label,
                    "model": words[role]["model"].iloc[0],
                    "task": task,
                    "best": r["best"],
                    "best_layer": r["best_layer"],
                    "top": r["top"],
                    "paper_best": best,
                    "paper_best_layer": layer,
                    "paper_top": top,
                    "diff_best": r["best"] - best,
                    "diff_top": r["top"] - top,
                    "note": note,
                }
            )
    out = pd.DataFrame(rows)
    if not out.empty:
        out["best_layer"] = out["best_layer"].astype("Int64")
        if out["paper_best_layer"].isna().any():
            out["paper_best_layer"] = out["paper_best_layer"].astype("Int64")
    return out


def task_notes(df: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(setting, task) -> the ``note`` a word-task table gives it (a task some of whose
    items read a word the tokenizer maps to its unknown token); empty when the table has no
    ``note`` column."""
    if "note" not in df.columns:
        return {}
    noted = df[df["note"].fillna("") != ""]
    return {
        (setting, task): note
        for setting, task, note in noted[["setting", "task", "note"]].itertuples(index=False)
    }


#: The ``note`` of a Table 1 row whose task the paper does not report.
_NOT_REPORTED = "not in the paper's Table 1"


def format_table1(t1: pd.DataFrame, *, paper: bool = True) -> pd.DataFrame:
    """Table 1 laid out as in the paper: one row per setting, ``best (layer)`` and top per
    task; with ``paper=True`` each cell also shows the paper's value in brackets (``[not in
    the paper]`` for a task the paper does not report)."""
    cells: dict[str, dict[tuple[str, str], str]] = {}
    for _, r in t1.iterrows():
        label = reference.TASK_LABELS[r["task"]]
        best = _num(r["best"])
        if not pd.isna(r["best_layer"]):
            best += f" ({r['best_layer']})"
        top = _num(r["top"])
        if paper and pd.isna(r["paper_best"]):
            best += " [not in the paper]"
        elif paper:
            best += f" [{r['paper_best']:.2f} ({r['paper_best_layer']})]"
            top += f" [{r['paper_top']:.2f}]"
        row = cells.setdefault(r["row"], {})
        row[(label, "best")] = best
        row[(label, "top")] = top
    out = pd.DataFrame.from_dict(cells, orient="index")
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out


def _num(x: float) -> str:
    """``0.73`` with two decimals, or ``undefined`` for NaN."""
    return "undefined" if pd.isna(x) else f"{x:.2f}"


# ------------------------------------------------------------------ claims (chapter 6)
def layer_series(df: pd.DataFrame, role: str, **eq: Any) -> pd.Series:
    """Native per-layer values of one role, filtered by column equality."""
    return (
        select(df, role=role, top="native", **eq).sort_values("layer").set_index("layer")["value"]
    )


def at_relative_depth(values: pd.Series, layers: pd.Index) -> pd.Series:
    """``values`` (indexed by layer 0..L) read at the same relative depth as ``layers``
    (0..L'): the nearest layer l with l/L closest to l'/L'. Identity when L == L'."""
    depth, other = values.index.max(), layers.max()
    pick = np.rint(np.asarray(layers) / other * depth).astype(int)
    return pd.Series(values.loc[pick].to_numpy(), index=layers)


#: (role, word setting) cells the "CLIP beats GPT-2 on words" claim reads for each task.
_CLAIM_WORD_CELLS = (("contrastive", "wrapped"), ("causal", "wrapped"), ("causal", "bare"))


def _nanmax(*values: float) -> float:
    """The largest defined value (like ``Series.max``: NaN is skipped), NaN if none is."""
    defined = [v for v in values if not pd.isna(v)]
    return max(defined) if defined else np.nan


def holds_text(held: object) -> str:
    """``"holds"``, ``"does not hold"`` or ``"undefined"`` for a ``direction_holds`` value."""
    if held is None or pd.isna(held):
        return "undefined"
    return "holds" if bool(held) else "does not hold"


def claim_checks(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Each quantitative claim of the paper: reproduced number, paper number, difference,
    and whether the claim's direction holds for the models that were run.

    ``tables`` holds ``cwe_geometry``, ``word_tasks``, ``sts`` and
    ``sentence_self_similarity`` (each with a ``role`` column); claims whose
    table is missing are skipped.

    Undefined (NaN) values are never turned into ``False``: when a number a claim
    compares is NaN, ``direction_holds`` is ``<NA>`` (pandas' nullable boolean; see
    :func:`holds_text`) and the ``note`` column says so. Maxima and minima over layers are
    taken over the defined layers; the note names the undefined layers that were left out
    (and, when a table's rows have a ``note``, why: a zero vector), and each is logged as a
    warning.
    """
    out = []
    notes_of: dict[int, str] = {}  # id of a series read -> its undefined layers

    def series(df: pd.DataFrame, role: str, **eq: Any) -> pd.Series:
        values = layer_series(df, role, **eq)
        nan_layers = [int(layer) for layer in values.index[values.isna()]]
        if nan_layers:
            where = ", ".join([role] + [str(v) for v in eq.values()])
            notes_of[id(values)] = f"{where}: {_undefined_note(nan_layers)}" + _zero_notes(
                select(df, role=role, top="native", **eq)
            )
        return values

    def add(
        key: str, value: float, held: bool, inputs: Sequence[float], uses: Sequence[pd.Series]
    ) -> None:
        """One claim: ``inputs`` are the numbers ``held`` compares, ``uses`` the series read."""
        claim = next(c for c in reference.CLAIMS if c.key == key)
        diff = value - claim.paper if claim.paper is not None else np.nan
        notes = list(dict.fromkeys(notes_of[id(x)] for x in uses if id(x) in notes_of))
        undefined = any(pd.isna(x) for x in (value, *inputs))
        if undefined:
            notes.insert(0, "direction undefined: a compared value is NaN")
        for note in notes:
            logger.warning("claim %r: %s", key, note)
        out.append(
            {
                "claim": claim.text,
                "section": claim.section,
                "reproduced": value,
                "paper": claim.paper,
                "difference": diff,
                "direction_holds": pd.NA if undefined else bool(held),
                "note": "; ".join(notes),
            }
        )

    if "cwe_geometry" in tables:
        g = tables["cwe_geometry"]
        ss_c = series(g, "contrastive", measure="self_similarity")
        ss_g = series(g, "causal", measure="self_similarity")
        both = (ss_c, ss_g)
        add("cwe_ss_contrastive_max", ss_c.max(), ss_c.max() < ss_g.min(), [ss_g.min()], both)
        add("cwe_ss_contrastive_min", ss_c.min(), ss_c.min() < ss_g.min(), [ss_g.min()], both)
        add("cwe_ss_causal_min", ss_g.min(), ss_g.min() > ss_c.max(), [ss_c.max()], both)
        c_top, g_top = ss_c.iloc[-1], ss_g.iloc[-1]
        add("cwe_ss_causal_top", g_top, g_top > c_top, [c_top], both)
        t5_g = series(g, "causal", measure="top5_share")
        t5_c = series(g, "contrastive", measure="top5_share")
        t5 = (t5_g, t5_c)
        g5, c5 = t5_g.iloc[-1], t5_c.iloc[-1]
        add("top5_causal_top", g5, g5 > c5, [c5], t5)
        add("top5_contrastive_top", c5, c5 < g5, [g5], t5)
        shares = {
            (r, k): series(g, r, measure=f"top{k}_share")
            for r in ("causal", "contrastive")
            for k in (5, 8)
        }
        gap = _nanmax(*((shares[r, 8] - shares[r, 5]).max() for r in ("causal", "contrastive")))
        add("top8_minus_top5", gap, gap < 0.03, [], list(shares.values()))
    if "word_tasks" in tables:
        w = tables["word_tasks"]
        read: dict[tuple[str, str, str], pd.Series] = {}

        def layers(role: str, setting: str, task: str) -> pd.Series:
            if (role, setting, task) not in read:
                read[role, setting, task] = series(w, role, setting=setting, task=task)
            return read[role, setting, task]

        def best(role: str, setting: str, task: str) -> float:
            return layers(role, setting, task).max()

        def uses(*keys: tuple[str, str, str]) -> list[pd.Series]:
            return [layers(*k) for k in keys]

        c_rg, g_rg = best("contrastive", "wrapped", "rg65"), best("causal", "wrapped", "rg65")
        rg = uses(("contrastive", "wrapped", "rg65"), ("causal", "wrapped", "rg65"))
        add("clip_rg65_best", c_rg, c_rg > g_rg, [g_rg], rg)
        c_vn = best("contrastive", "wrapped", "valnorm")
        g_vn = best("causal", "wrapped", "valnorm")
        vn = uses(("contrastive", "wrapped", "valnorm"), ("causal", "wrapped", "valnorm"))
        add("clip_valnorm_best", c_vn, c_vn > g_vn, [g_vn], vn)
        tasks = reference.TABLE1_TASKS
        clip = [best("contrastive", "wrapped", t) for t in tasks]
        gpt2 = [_nanmax(best("causal", "wrapped", t), best("causal", "bare", t)) for t in tasks]
        wins = [c > g for c, g in zip(clip, gpt2, strict=True)]
        read_all = uses(*[(r, st, t) for t in tasks for r, st in _CLAIM_WORD_CELLS])
        add("clip_beats_gpt2_words", float(sum(wins)), all(wins), [*clip, *gpt2], read_all)
        wrapped = [best("causal", "wrapped", t) for t in tasks]
        bare = [best("causal", "bare", t) for t in tasks]
        helps = [a > b for a, b in zip(wrapped, bare, strict=True)]
        causal = uses(*[("causal", st, t) for t in tasks for st in ("wrapped", "bare")])
        add("bos_helps_gpt2", float(sum(helps)), all(helps), [*wrapped, *bare], causal)
        for key, task in (("clip_eos_top_valnorm", "valnorm"), ("clip_eos_top_rg65", "rg65")):
            pair = uses(("contrastive", "eos", task), ("contrastive", "wrapped", task))
            eos, cwe = pair[0].iloc[-1], pair[1].iloc[-1]
            add(key, eos, eos > cwe, [cwe], pair)
    if "sts" in tables:
        s = tables["sts"]
        c_eos = series(s, "contrastive", setting="eos")
        g_sts = [series(s, "causal", setting=st) for st in ("eos", "last")]
        g_best = _nanmax(*(x.max() for x in g_sts))
        read_sts = [c_eos, *g_sts]
        add("sts_clip_top", c_eos.iloc[-1], c_eos.iloc[-1] > g_best, [g_best], read_sts)
        add("sts_gpt2_max", g_best, g_best < c_eos.iloc[-1], [c_eos.iloc[-1]], read_sts)
        g_eos = at_relative_depth(g_sts[0], c_eos.index)
        both = c_eos.notna().to_numpy() & g_eos.notna().to_numpy()  # undefined layers skipped
        wins = (c_eos.to_numpy()[both] > g_eos.to_numpy()[both]).mean() if both.any() else np.nan
        add("sts_clip_beats_every_layer", float(wins), wins == 1.0, [], [c_eos, g_sts[0]])
    if "sentence_self_similarity" in tables:
        ss = tables["sentence_self_similarity"]
        c = series(ss, "contrastive", setting="eos")
        gs = series(ss, "causal", setting="eos")
        held = c.iloc[-1] < c.iloc[0] and c.iloc[-1] < gs.min()
        add("sent_ss_clip_top", c.iloc[-1], held, [c.iloc[0], gs.min()], [c, gs])
        add("sent_ss_gpt2_min", gs.min(), gs.min() > c.iloc[-1], [c.iloc[-1]], [c, gs])
    frame = pd.DataFrame(out)
    if not frame.empty:
        frame["direction_holds"] = frame["direction_holds"].astype("boolean")
    return frame
