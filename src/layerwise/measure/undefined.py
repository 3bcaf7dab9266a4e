"""Zero vectors in a model's states: where they are, and the notes that name them.

A cosine with a zero vector is undefined (:mod:`layerwise.stats.geometry`). A token whose
embedding row is zero (a padding index zeroed as ``nn.Embedding(padding_idx=...)`` does)
gives a zero state at layer 0, the embedding output, wherever a text uses it, and a state
can be zero at any layer. The measurements compute with ``zero_rows="nan"``: the values
that need a zero vector are undefined (NaN), the others are what they always were, and
the run goes on. As each layer is read, its zero rows are found
(:func:`~layerwise.stats.geometry.find_zero_rows`, the :data:`ZERO` entry of
:func:`~layerwise.measure.common.over_layers`), and each table row whose value needed one
gets a ``note`` that counts and names them: the model, the layer, the token and the text it
is in (:class:`ZeroVectors`); the note is also issued as a :class:`RuntimeWarning`.

What a value needs: a mean over every vector of a sample or every pair of them
(self-similarity, the paper's top-k share, uniformity, the rogue-dimension
contributions) needs every row; a correlation over items (word pairs, sentence pairs,
ValNorm's target words) needs every item, and an item needs the rows it is computed from
(a pair its two vectors; an SC-WEAT effect size its target and every attribute word). An
undefined item is not dropped: the correlation over all items is undefined (NaN) with
``n`` unchanged, and the note says how many items were undefined.

A table gets a ``note`` column only when one of its values needed a zero vector (the rows
without a note hold a missing value), so a run on states without zero vectors writes the
tables it always wrote.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..models.spec import LoadedModel
from ..stats.geometry import find_zero_rows

__all__ = [
    "ZERO",
    "RowLabels",
    "ZeroVectors",
    "describe_read",
    "needing_items",
    "notes_last",
    "numbered",
    "warn_notes",
    "with_zero_rows",
]

#: The name under which :func:`~layerwise.measure.common.over_layers` returns each layer's
#: zero rows (int arrays) when asked with :func:`with_zero_rows`.
ZERO = "zero rows"

#: What rows of a sample are: row indices -> one description per row (the token read and
#: the text it is in), computed only for the rows a note names.
RowLabels = Callable[[Sequence[int]], list[str]]

#: The most zero vectors a note names; the others are counted.
NAMED = 5


def with_zero_rows(fns: dict) -> dict:
    """``fns`` plus :data:`ZERO`: :func:`~layerwise.stats.geometry.find_zero_rows`, so the
    same pass over the layers also finds each layer's zero rows."""
    return {**fns, ZERO: find_zero_rows}


def numbered(what: str) -> RowLabels:
    """Labels that only number the rows (``row 3 of the sample``), for states whose texts
    the caller does not know."""
    return lambda rows: [f"row {int(r)} of the {what}" for r in rows]


def _shown(text: str, width: int = 60) -> str:
    return repr(text if len(text) <= width else text[: width - 3] + "...")


def describe_read(lm: LoadedModel, text: str, ids: Sequence[int], span: tuple[int, int]) -> str:
    """What one read of one input is, for a note: ``token 'Ġthe' (id 262, position 1) of
    'a the'`` (the position in the input, special tokens counted);
    a read of several positions (a mean) is ``the mean of tokens 1-5 of '...'``. ``text``
    is the input's text (shortened to 60 characters), ``ids`` its token ids, ``span`` the
    read ``[start, stop)``."""
    start, stop = (int(v) for v in span)
    if stop - start == 1:
        token = lm.tokenizer.convert_ids_to_tokens(int(ids[start]))
        return f"token {token!r} (id {int(ids[start])}, position {start}) of {_shown(text)}"
    return f"the mean of tokens {start}-{stop - 1} of {_shown(text)}"


def needing_items(
    zero: np.ndarray, item_rows: Sequence[np.ndarray], every: Iterable[np.ndarray] = ()
) -> np.ndarray:
    """Which items need a zero vector: bool ``[n_items]``. ``zero``: the layer's zero rows;
    ``item_rows``: for each role the row of each item (a pair's first and second vector:
    two ``[n_items]`` arrays); ``every``: rows every item needs (ValNorm's attribute words):
    one of them zero makes every item need it."""
    n = len(item_rows[0])
    if not len(zero):
        return np.zeros(n, dtype=bool)
    if any(np.isin(rows, zero).any() for rows in every):
        return np.ones(n, dtype=bool)
    return np.logical_or.reduce([np.isin(rows, zero) for rows in item_rows])


@dataclass(frozen=True)
class ZeroVectors:
    """The zero vectors of one sample of a model's states, layer by layer of one view.

    ``model``: the model's name; ``what``: what the ``n`` rows are (``sampled tokens``,
    ``words``, ``sentences``); ``found``: the zero rows of each layer read, in the order
    read (int arrays, empty for most layers); ``labels``: describes rows (:data:`RowLabels`);
    ``layers``: the name of each layer read (``layer 0``, ..., ``layer 12 (post_norm)``).
    """

    model: str
    what: str
    n: int
    found: Sequence[np.ndarray]
    labels: RowLabels
    layers: Sequence[str]

    def zero_count(self, i: int) -> int:
        """How many rows of layer ``i`` are zero vectors."""
        return len(self.found[i])

    def note(self, i: int, clause: str) -> str:
        """``undefined (NaN): model 'M', layer 0: 2 of the 60 sampled tokens are zero
        vectors (token 'Ġthe' (id 262, position 4) of '...'; ...); `` + ``clause``, or ``""`` when
        layer ``i`` has no zero row. At most :data:`NAMED` rows are named; the others are
        counted."""
        rows = np.asarray(self.found[i])
        if not rows.size:
            return ""
        names = self.labels(rows[:NAMED].tolist())
        more = f"; and {len(rows) - NAMED:,} more" if len(rows) > NAMED else ""
        are = "is a zero vector" if len(rows) == 1 else "are zero vectors"
        return (
            f"undefined (NaN): model {self.model!r}, {self.layers[i]}: {len(rows):,} of the "
            f"{self.n:,} {self.what} {are} ({'; '.join(names)}{more}); {clause}"
        )

    def sample_note(self, i: int, value: str) -> str:
        """The note of a value of layer ``i`` that needs every row's cosines (``value``
        says what it is, e.g. ``the mean cosine over all pairs``); ``""`` when the layer
        has no zero row."""
        return self.note(i, f"a cosine with a zero vector is undefined, so is {value}")

    def items_note(self, i: int, needs: np.ndarray, items: str, statistic: str) -> str:
        """The note of a statistic over items at layer ``i``: ``needs`` (bool
        ``[n_items]``, :func:`needing_items`) marks the items that need a zero vector;
        ``items`` names them (``pairs``), ``statistic`` the statistic (``Spearman's
        rho``). ``""`` when no item needs one."""
        count = int(np.count_nonzero(needs))
        if not count:
            return ""
        return self.note(
            i,
            f"a cosine with a zero vector is undefined, so {count:,} of the {len(needs):,} "
            f"{items} {'is' if count == 1 else 'are'} undefined, and {statistic} over all "
            f"{len(needs):,} {items} is undefined (none is dropped)",
        )


def warn_notes(notes: Iterable[str], *, stacklevel: int = 2) -> None:
    """Issue each non-empty note once as a :class:`RuntimeWarning` (the run goes on)."""
    for note in dict.fromkeys(n for n in notes if n):
        warnings.warn(note, RuntimeWarning, stacklevel=stacklevel + 1)


def notes_last(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its ``note`` column, when it has one, moved to the end (rows with and
    without notes may come in any order); ``df`` itself otherwise."""
    if "note" not in df.columns or df.columns[-1] == "note":
        return df
    return df[[c for c in df.columns if c != "note"] + ["note"]]
