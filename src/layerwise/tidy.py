"""Tidy tables, once: the row filter every table reader uses.

The package's tables are tidy (one row per model, setting, layer and quantity; see
:mod:`layerwise.measure.common`), so reading one number is "the rows where these columns
hold these values".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def select(df: pd.DataFrame, **eq: Any) -> pd.DataFrame:
    """The rows of ``df`` whose column ``c`` equals ``v`` for every ``c=v`` in ``eq``.

    ``select(words, role="causal", setting="bare", top="native")``. A column name that is
    not in ``df`` raises :class:`KeyError` naming it (a typo never selects everything).
    """
    missing = [c for c in eq if c not in df.columns]
    if missing:
        raise KeyError(f"no column(s) {missing} in a table with columns {list(df.columns)}")
    mask = np.ones(len(df), dtype=bool)
    for column, value in eq.items():
        mask &= (df[column] == value).to_numpy()
    return df[mask]
