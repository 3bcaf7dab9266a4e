"""What chapter 7's tables say: top-layer views, verdicts of paired intervals, and the
sentences the chapter states about them (chapter 7, ``notebooks/07_beyond``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..measure.words import word_tasks
from .table1 import best_and_top


def verdict(row: pd.Series) -> str:
    """``"A > B"``, ``"A < B"`` or ``"no clear difference"`` from a paired CI."""
    if not np.isfinite(row["low"]):
        return "undefined"
    if row["low"] > 0:
        return f"{row['model_a']} > {row['model_b']}"
    if row["high"] < 0:
        return f"{row['model_a']} < {row['model_b']}"
    return "no clear difference (CI includes 0)"


def at_top(df: pd.DataFrame, index: Sequence[str], columns: str = "measure") -> pd.DataFrame:
    """Each model's top-layer values, one row per ``index`` and one column per ``columns``."""
    top = df[df["layer"] == df.groupby("model")["layer"].transform("max")]
    return top.pivot_table(index=list(index), columns=columns, values="value", sort=False)


def postprocessing_summary(post: pd.DataFrame) -> pd.DataFrame:
    """Best layer (value, CI, layer) and top layer (value, CI) per model, method, task."""
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
    paired: pd.DataFrame, after: str = "abtt", tasks: Sequence[str] | None = None
) -> str:
    """Does model A's lead over B (first pair) on ``tasks`` survive postprocessing ``after``?

    Read from the paired intervals at each model's best layer, raw against ``after``.
    """
    tasks = word_tasks() if tasks is None else tasks
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
