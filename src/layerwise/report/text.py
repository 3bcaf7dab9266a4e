"""The text a chapter shows: numbers formatted as the paper prints them, cells of
Table 1, gaps to the paper."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ..data import reference
from .table1 import at_relative_depth, best_and_top, layer_series

#: What a reader table shows where a value is undefined (the caption says why).
MISSING = "\u2013"


def fmt(x: float, digits: int = 2) -> str:
    """A correlation or share the way the paper prints it: ``.73``, ``-.01``; an undefined
    (NaN) value is ``undefined``."""
    if x is None or x != x:
        return "undefined"
    s = f"{x:.{digits}f}"
    return s.replace("0.", ".", 1) if abs(x) < 1 else s


# ------------------------------------------------------------------ chapters 4-5 helpers
def setting_label(role: str, setting: str) -> str:
    """The paper's row label for a (role, word setting), or a label marking an extra."""
    for label, key in reference.TABLE1_ROWS.items():
        if key == (role, setting):
            return label
    return f"{role}, {setting} (not in the paper)"


def format_ci(value: float, low: float, high: float, layer: int | None = None) -> str:
    """``.88 [.80, .93] (8)``: a value, its 95% interval and, if given, its layer."""
    out = fmt(value)
    if not (np.isnan(low) or np.isnan(high)):
        out += f" [{fmt(low)}, {fmt(high)}]"
    return out + (f" ({layer})" if layer is not None else "")


def _layer(layer: object) -> int | None:
    """A best-layer cell as an int, ``None`` when no layer is defined."""
    return None if pd.isna(layer) else int(layer)


def format_best_top(bt: pd.DataFrame, index: list[str], columns: str | None = None) -> pd.DataFrame:
    """A :func:`best_and_top` table as text cells ``best [low, high] (layer)`` and
    ``top [low, high]``, one row per ``index``; ``columns`` (e.g. ``"task"``) spreads
    that column into a (value of it, best/top) column header."""
    cells = bt[index + ([columns] if columns else [])].copy()
    cells["best"] = [
        format_ci(r.best, r.best_low, r.best_high, _layer(r.best_layer)) for r in bt.itertuples()
    ]
    cells["top"] = [format_ci(r.top, r.top_low, r.top_high) for r in bt.itertuples()]
    if columns is None:
        return cells.set_index(index)
    wide = cells.pivot(index=index, columns=columns, values=["best", "top"])
    wide = wide.swaplevel(axis=1)
    order = list(dict.fromkeys(bt[columns]))
    wide = wide.reindex(columns=[(c, k) for c in order for k in ("best", "top")])
    rows = list(dict.fromkeys(map(tuple, bt[index].to_numpy())))
    wide = wide.reindex(rows if len(index) > 1 else [r[0] for r in rows])
    labels = {c: reference.TASK_LABELS.get(c, c) for c in order}
    return wide.rename(columns=labels, level=0)


def compare_best_top(
    base: pd.DataFrame, alt: pd.DataFrame, by: list[str], names: tuple[str, str]
) -> pd.DataFrame:
    """Best (layer) and top of two runs side by side, with ``alt - base`` differences.

    ``base`` and ``alt`` are per-layer tables (as from
    :func:`~layerwise.measure.words.word_task_scores`); ``names`` label the two runs.
    """
    a, b = (best_and_top(x, by)[by + ["best", "best_layer", "top"]] for x in (base, alt))
    out = a.merge(b, on=by, suffixes=(f" {names[0]}", f" {names[1]}"))
    out["best difference"] = out[f"best {names[1]}"] - out[f"best {names[0]}"]
    out["top difference"] = out[f"top {names[1]}"] - out[f"top {names[0]}"]
    return out


def top_conventions(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The top layer in the model's native final-norm convention and in the other one
    (rows with ``top != "native"``; methodology note 7), with the difference.

    Groups whose model has no final layer norm have no other convention and are left out.
    """
    alt = df[df["top"] != "native"]
    native = df[df["top"] == "native"]
    native = native[native["layer"] == native.groupby("model")["layer"].transform("max")]
    out = native[by + ["layer", "value"]].merge(
        alt[by + ["top", "value"]], on=by, suffixes=(" native", " other")
    )
    out = out.rename(
        columns={"top": "other convention", "value native": "native", "value other": "other"}
    )
    out["difference"] = out["other"] - out["native"]
    return out.reset_index(drop=True)


def top_in_other_convention(df: pd.DataFrame) -> pd.DataFrame:
    """The native rows of a tidy table, each model's top layer read in the other
    final-norm convention (methodology note 7).

    ``df`` has the columns ``layer``, ``top`` and ``value`` (and ``low``, ``high`` when it
    holds intervals), like every table of chapters 3-5. A native row that has a row in the
    other convention (the same values in every column but ``top``, ``value``, ``low`` and
    ``high``) takes that row's values; rows of models without a final layer norm stay as
    they are, and the rows of the other convention are dropped. The result reads like the
    table itself, so :func:`~layerwise.report.table1.claim_checks` can re-check the paper's
    claims with every top layer in the other convention (chapter 6).
    """
    values = [c for c in ("value", "low", "high") if c in df.columns]
    keys = [c for c in df.columns if c not in {"top", *values}]
    native = df["top"] == "native"
    alt = df[~native]
    out = df[native].copy()
    if alt.empty:
        return out.reset_index(drop=True)
    if alt.duplicated(keys).any():
        raise ValueError("two rows of the other convention share their key columns")
    lookup = alt.set_index(keys)[values]
    where = pd.MultiIndex.from_frame(out[keys])
    hit = where.isin(lookup.index)
    out.loc[hit, values] = lookup.loc[where[hit]].to_numpy()
    return out.reset_index(drop=True)


def layerwise_gap(df: pd.DataFrame, a: Mapping[str, Any], b: Mapping[str, Any]) -> pd.DataFrame:
    """Per-layer values of selection ``a`` and of selection ``b`` read at the same
    relative depth (:func:`at_relative_depth`), and the gap ``a - b``.

    ``a`` and ``b`` are column filters that include ``role``, e.g.
    ``{"role": "contrastive", "setting": "eos"}``; native hidden states only.
    """
    sa = layer_series(df, **a)
    sb = at_relative_depth(layer_series(df, **b), sa.index)
    out = pd.DataFrame({"relative_depth": sa.index / sa.index.max(), "a": sa, "b": sb})
    out["gap"] = out["a"] - out["b"]
    return out


def sts_summary(sts: pd.DataFrame) -> pd.DataFrame:
    """STS-B best and top layer per model and setting with 95% intervals, beside the
    paper's figures: CLIP EOS .73 at the top layer; GPT-2 (EOS, last) never above .45."""
    claims = {c.key: c.paper for c in reference.CLAIMS}
    clip_top, gpt2_max = claims["sts_clip_top"], claims["sts_gpt2_max"]
    bt = best_and_top(sts, ["role", "model", "setting"])
    table = format_best_top(bt, ["role", "model", "setting"]).reset_index()
    paper, diff = [], []
    for r in bt.itertuples():
        if (r.role, r.setting) == ("contrastive", "eos"):
            paper.append(f"top {clip_top:.2f}".replace("0.", "."))
            diff.append(f"top {r.top - clip_top:+.2f}")
        elif r.role == "causal" and r.setting in ("eos", "last"):
            paper.append(f"best <= {gpt2_max:.2f}".replace("0.", "."))
            diff.append(f"best {r.best - gpt2_max:+.2f}")
        else:
            paper.append("not in the paper")
            diff.append("")
    table["paper"], table["difference"] = paper, diff
    return table


def cell_texts(bt: pd.DataFrame, role: str, setting: str, task: str) -> dict[str, str]:
    """Prose-ready text for one cell of a :func:`best_and_top` table (grouped by role,
    setting and task) and, where Table 1 has that cell, the paper's values and the
    differences: keys ``best``, ``top``, and ``paper_best``, ``paper_top``,
    ``diff_best``, ``diff_top``."""
    r = bt[(bt["role"] == role) & (bt["setting"] == setting) & (bt["task"] == task)].iloc[0]
    out = {
        "best": format_ci(r["best"], r["best_low"], r["best_high"], _layer(r["best_layer"])),
        "top": format_ci(r["top"], r["top_low"], r["top_high"]),
    }
    label = next((k for k, v in reference.TABLE1_ROWS.items() if v == (role, setting)), None)
    if label is not None and task in reference.TABLE1[label]:
        best, layer, top = reference.TABLE1[label][task]
        out |= {
            "paper_best": f"{fmt(best)} (layer {layer})",
            "paper_top": fmt(top),
            "diff_best": f"{r['best'] - best:+.2f}",
            "diff_top": f"{r['top'] - top:+.2f}",
        }
    return out


def gap_texts(gap: pd.DataFrame) -> dict[str, str]:
    """Prose-ready reading of a :func:`layerwise_gap` table: at how many layers ``a`` wins
    (``wins``), whether it wins at every layer (``every``: "holds"/"does not hold"), the
    mean gap in the lower and upper halves of relative depth (``gap_lower``,
    ``gap_upper``) and whether the upper mean is the larger (``grows``). Layers where
    either score is undefined (NaN) are left out."""
    gap = gap.dropna(subset=["gap"])
    upper = gap.loc[gap["relative_depth"] > 0.5, "gap"].mean()
    lower = gap.loc[gap["relative_depth"] <= 0.5, "gap"].mean()
    wins = int((gap["gap"] > 0).sum())
    return {
        "wins": f"{wins} of {len(gap)}",
        "every": "holds" if wins == len(gap) else "does not hold",
        "gap_lower": f"{lower:+.2f}",
        "gap_upper": f"{upper:+.2f}",
        "grows": "holds" if upper > lower else "does not hold",
    }
