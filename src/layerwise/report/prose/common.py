"""Phrases several chapters state the same way: counts, undefined layers, the largest
change between final-norm conventions, the cache's work, a claim's verdict; and the
:class:`Prose` a chapter's ``{eval}`` roles read them from."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ...store.cache import Cache
from ..table1 import holds_text

__all__ = [
    "Phrase",
    "Prose",
    "count",
    "verdict",
    "undefined_layers",
    "largest_change",
    "cache_work",
]


class Phrase(str):
    """A text a chapter states inline: a ``str`` that a kernel shows as itself, without
    the quotes of a string's repr, so an ``{eval}`` role renders ``.73 (layer 4)`` and
    not ``'.73 (layer 4)'`` (in JupyterLab with jupyterlab-myst, and in the book)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # IPython's text/plain
        printer.text(str(self))


class Prose(dict):
    """The texts a chapter's markdown states, by name; its ``{eval}`` roles read them as
    attributes (``{eval}`text.n_pairs```), in JupyterLab as in the book.

    A chapter creates one after its opening and adds each section's texts with
    :meth:`update` in a hidden cell placed before the first markdown cell that reads
    them, since a markdown cell is evaluated when it is run (chapter 3's
    ``text.update(prose.anisotropy.figure1_texts(geo))``). Every value becomes a
    :class:`Phrase`.

    Raises:
        AttributeError: reading a name no section has added yet; the message names it
            and the names there are.
    """

    def __init__(self, texts: Mapping[str, object] | None = None, /, **more: object) -> None:
        super().__init__()
        self.update(texts or {}, **more)

    def __setitem__(self, name: str, value: object) -> None:
        super().__setitem__(name, Phrase(value))

    def update(self, texts: Mapping[str, object] | None = None, /, **more: object) -> None:  # type: ignore[override]
        """Add (or replace) texts; returns nothing, so a cell that calls it shows nothing."""
        for name, value in {**(texts or {}), **more}.items():
            self[name] = value

    def __getattr__(self, name: str) -> Phrase:
        try:
            return self[name]
        except KeyError:
            if name.startswith("__"):
                raise AttributeError(name) from None
            raise AttributeError(
                f"this chapter states no text {name!r} yet (it has: "
                f"{', '.join(sorted(self)) or 'none'}). Remedy: run the cells above this one "
                "in order (Run All), or add the section's texts before the markdown cell "
                "that reads them."
            ) from None

    def __dir__(self) -> list[str]:
        return [*super().__dir__(), *self]


def count(n: int) -> str:
    """A count with thousands separators: ``1,379``."""
    return f"{n:,}"


_SMALL = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def count_word(n: int) -> str:
    """A count in words up to ten (``five``), in digits above (``12``)."""
    return _SMALL[n] if 0 <= n < len(_SMALL) else f"{n:,}"


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
