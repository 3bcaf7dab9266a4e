"""Phrases several chapters state the same way: counts, undefined layers, the largest
change between final-norm conventions, the cache's work, a claim's verdict."""

from __future__ import annotations

import pandas as pd

from ...store.cache import Cache
from ..table1 import holds_text

__all__ = ["count", "verdict", "undefined_layers", "largest_change", "cache_work"]


def count(n: int) -> str:
    """A count with thousands separators: ``1,379``."""
    return f"{n:,}"


def verdict(held: bool) -> str:
    """``"holds"`` or ``"does not hold"`` for a check that compares defined numbers (a
    comparison with NaN is false, so it does not hold)."""
    return holds_text(bool(held))


def undefined_layers(scores: pd.DataFrame) -> str:
    """Where a tidy score table (``model``, ``setting``, ``layer``, ``value``) is undefined:
    ``"model, setting, layer 0, 1; ..."``, or ``"none"`` (chapters 4 and 5)."""
    nan = scores[scores["value"].isna()].groupby(["model", "setting"])["layer"].unique()
    where = [f"{m}, {st}, layer {', '.join(map(str, ls))}" for (m, st), ls in nan.items()]
    return "; ".join(where) if where else "none"


def largest_change(conventions: pd.DataFrame) -> str:
    """The largest absolute ``difference`` of a
    :func:`~layerwise.report.text.top_conventions` table, three decimals, or
    ``"not applicable"`` when it is empty (no model has a final layer norm; chapters 4, 5)."""
    return f"{conventions['difference'].abs().max():.3f}" if len(conventions) else "not applicable"


def cache_work(cache: Cache) -> str:
    """``"12 read from the cache, 3 computed"``: this session's hits and misses of
    ``cache`` (chapters 3 and 7)."""
    return f"{cache.hits} read from the cache, {cache.misses} computed"
