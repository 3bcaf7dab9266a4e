"""What every measurement shares: the run's options, cached extraction, per-layer rows.

Every measurement takes a loaded model (any Hugging Face text model) and returns a
``pandas.DataFrame`` with one row per (model, setting, layer, ...) and the columns
``model``, ``layer``, ``top`` and ``value`` (plus ``low``/``high``, the 95% bootstrap
interval, for evaluations). Rows for layers ``0..L`` use the model's native hidden
states (``top="native"``); one more row per quantity gives the top layer in the other
final-layer-norm convention (``top="pre_norm"`` or ``"post_norm"``; methodology note 7,
chapter 6). A value that needs a zero vector is undefined (NaN), and its row has a ``note``
naming the model, the layer and the token (:mod:`layerwise.measure.undefined`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from numbers import Integral
from typing import TypeVar

import numpy as np
import pandas as pd

from ..errors import InputError
from ..extract.requests import Request
from ..extract.states import Extracted
from ..models.spec import LoadedModel
from ..stats.correlation import Score
from ..store.cache import Cache
from ..store.cached import cached_extract
from ..store.memo import BootstrapMemo
from .undefined import RowLabels, ZeroVectors, warn_notes

K = TypeVar("K")
T = TypeVar("T")


@dataclass
class MeasureOptions:
    """Run-wide options of every measurement: sample sizes, seed, batching, the cache and
    the bootstrap memo.

    ``n_cwe``: tokens sampled for chapter 3's CWEs (the paper's 10,000); ``n_resamples``:
    bootstrap resamples per interval; ``cache``: where extracted states, tables and values
    are kept (None: compute everything); ``memo``: where bootstrap intervals are kept
    (default: in ``cache``; None when there is no cache). ``progress``: show bars (None:
    only for long extractions). A size that is not a positive integer, or a negative seed
    (which numpy's generators refuse), is an :class:`~layerwise.errors.InputError` here,
    before any work.
    """

    n_cwe: int = 10_000
    seed: int = 0
    batch_size: int = 64
    n_resamples: int = 1000
    cache: Cache | None = field(default_factory=Cache)
    progress: bool | None = None
    memo: BootstrapMemo | None = None

    def __post_init__(self) -> None:
        for name in ("n_cwe", "batch_size", "n_resamples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise InputError(
                    f"MeasureOptions: {name} must be a positive integer, got {value!r}"
                )
        if isinstance(self.seed, bool) or not isinstance(self.seed, Integral) or self.seed < 0:
            raise InputError(
                f"MeasureOptions: seed must be a non-negative integer, got {self.seed!r}"
            )
        if self.memo is None and self.cache is not None:
            self.memo = BootstrapMemo(self.cache)

    def rng(self, step: str, *names: str) -> np.random.Generator:
        """A fresh generator for one random step, derived from the run's seed and the step's
        name: ``step`` (what is drawn, e.g. ``"word task"``) and ``names`` (what it is drawn
        for, e.g. the task and the setting), never a position in a list, so a number is the
        same whatever else a run asks for (a task asked alone gets the interval it gets in
        the full run). The name is hashed with sha256 (stable across processes, unlike
        ``hash()``) into the seed sequence ``[seed, name digest]``.

        The steps of :data:`FIXED_SALTS` keep the stream they had when seeds were small
        constants (``[seed, salt]``): their salt never depended on a position, and a new
        stream would move every point estimate drawn from them (the CWE token sample feeds
        all of chapter 3). Raises :class:`~layerwise.errors.InputError` for an empty or
        non-text name.
        """
        parts = (step, *names)
        if not all(isinstance(p, str) and p for p in parts):
            raise InputError(f"a random step is named by non-empty strings, got {parts!r}")
        if parts in FIXED_SALTS:
            return np.random.default_rng([self.seed, FIXED_SALTS[parts]])
        digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
        return np.random.default_rng([self.seed, int.from_bytes(digest[:16], "big")])


#: Named steps that keep their original constant salt (see :meth:`MeasureOptions.rng`):
#: the CWE token sample (chapter 3) and :func:`~layerwise.measure.words.word_pair_scores`.
FIXED_SALTS: dict[tuple[str, ...], int] = {("cwe sample",): 1, ("word pairs",): 150}


_PLANNING: ContextVar[list | None] = ContextVar("layerwise_planning", default=None)


@contextmanager
def planning() -> Iterator[list[tuple[LoadedModel, str, tuple[Request, ...]]]]:
    """Within it, ``extract_states`` extracts nothing: it appends ``(model, label,
    requests)`` to the list this yields and returns zeros of the right shape. The
    extraction plan (:mod:`layerwise.store.plan`) calls the functions that gather a run's
    states (``cwe_states``, ``word_states``, ``sentence_states``) inside it to learn, before
    any forward pass, which extractions the run's measurements will make; only functions
    that gather states belong inside (a measurement would compute on the zeros)."""
    recorded: list = []
    token = _PLANNING.set(recorded)
    try:
        yield recorded
    finally:
        _PLANNING.reset(token)


class _Zeros:
    """A :class:`~layerwise.extract.states.LayerSource` of zeros (:func:`planning`)."""

    def __init__(self, shape: tuple[int, int, int]) -> None:
        self.shape = shape

    def layer(self, k: int) -> np.ndarray:
        return np.zeros((self.shape[0], self.shape[2]), np.float32)


def extract_states(
    lm: LoadedModel,
    requests: Sequence[Request] | Callable[[], Sequence[Request]],
    label: str,
    s: MeasureOptions,
) -> Extracted:
    """:func:`~layerwise.store.cached.cached_extract` with the run's cache and batching
    (keyed by the requests' token ids and read spans). Inside :func:`planning`, records the
    extraction instead and returns states of zeros of its shape."""
    recorded = _PLANNING.get()
    if recorded is not None:
        built = tuple(requests() if callable(requests) else requests)
        recorded.append((lm, label, built))
        n = sum(len(r.reads) for r in built)
        d = lm.spec.hidden_size
        alt = np.zeros((n, d), np.float32) if lm.spec.top_state != "no_final_norm" else None
        return Extracted(top_alt=alt, layers=_Zeros((n, lm.spec.n_states, d)))
    return cached_extract(
        lm,
        requests,
        label=label,
        cache=s.cache,
        batch_size=s.batch_size,
        progress=s.progress,
    )


def unknown_note(
    lm: LoadedModel,
    items: Sequence[Sequence[str]],
    what: str,
    every: Sequence[str] = (),
    unknown: set[str] | None = None,
) -> str:
    """The note of a task some of whose items read a text that ``lm``'s tokenizer maps (in
    part) to its unknown token (:meth:`~layerwise.models.spec.LoadedModel.unknown_texts`),
    which changes its score: every such text shares the unknown token's embedding. ``items``:
    the texts each item reads, as tokenized; ``every``: texts every item reads (ValNorm's
    attribute words); ``unknown``: those of the texts that hold the unknown token, when
    known already. ``""`` when no item reads one (always, for a tokenizer without an
    unknown token of its own)."""
    if lm.unknown_id is None:
        return ""
    if unknown is None:
        unknown = set(lm.unknown_texts([t for item in items for t in item] + list(every)))
    if not unknown:
        return ""
    shared = any(t in unknown for t in every)
    touched = len(items) if shared else sum(any(t in unknown for t in item) for item in items)
    names = [
        t for t in dict.fromkeys([*every, *(t for item in items for t in item)]) if t in unknown
    ]
    shown = ", ".join(repr(t) for t in names[:3]) + (", ..." if len(names) > 3 else "")
    return (
        f"{touched} of {len(items)} {what} read a text holding the tokenizer's unknown token "
        f"{lm.tokenizer.unk_token!r} ({len(names)}: {shown}), where what it cannot spell "
        "shares one embedding"
    )


def with_note(rows: list[dict], note: str) -> list[dict]:
    """``rows`` with ``note`` added when it says something (:func:`noted_table`): after a
    row's own note (a zero vector's), separated by ``"; "``."""
    if not note:
        return rows
    return [row | {"note": "; ".join(n for n in (row.get("note"), note) if n)} for row in rows]


def noted_table(rows: list[dict]) -> pd.DataFrame:
    """The table of ``rows``; its ``note`` column, when some row has a note
    (:func:`with_note`), is ``""`` in the others. A table none of whose rows needs a note
    has no such column, as before notes existed."""
    df = pd.DataFrame(rows)
    if "note" in df.columns:
        df["note"] = df["note"].fillna("")
    return df


def alt_top_name(lm: LoadedModel) -> str | None:
    """The final-norm convention the hook captures (the one the native top lacks)."""
    return {"pre_norm": "post_norm", "post_norm": "pre_norm"}.get(lm.spec.top_state)


#: A view of an :class:`Extracted`: the ``[n, d]`` states of each layer it covers, read one
#: at a time as the iterator is consumed.
View = Callable[[Extracted], Iterator[np.ndarray]]


def NATIVE(ex: Extracted) -> Iterator[np.ndarray]:  # noqa: N802 - a constant-like view
    """The native states of layers ``0..L``, each ``[n, d]``, read one layer at a time."""
    return (ex.layer(k) for k in range(ex.n_states))


def ALT_TOP(ex: Extracted) -> Iterator[np.ndarray]:  # noqa: N802 - a constant-like view
    """The top layer in the other final-norm convention, ``ex.top_alt`` ``[n, d]`` (nothing
    when the model has no final norm)."""
    return iter(() if ex.top_alt is None else (ex.top_alt,))


def over_layers(
    view: View, ex: Extracted, fns: Mapping[K, Callable[[np.ndarray], T]]
) -> dict[K, list[T]]:
    """Every function of ``fns`` on each layer of ``view(ex)``: name -> one result per layer.

    Each layer's ``[n, d]`` states are read once, given to every function, and dropped
    before the next layer is read, so host memory holds one layer of states (plus what the
    functions return), whatever the number of layers.
    """
    out: dict[K, list[T]] = {name: [] for name in fns}
    for x in view(ex):
        for name, fn in fns.items():
            out[name].append(fn(x))
        del x
    return out


def stack_layers(values: Sequence[np.ndarray]) -> np.ndarray:
    """Per-layer item values (each ``[n_items]``) as one ``[n_items, n_layers]`` array."""
    return np.stack(values, axis=1)


def layer_names(lm: LoadedModel, view: View, n: int) -> list[str]:
    """How a note names the ``n`` layers of ``view``: ``layer 0`` ... ``layer L``, or the top
    layer in the other convention, ``layer L (post_norm)``."""
    if view is ALT_TOP:
        return [f"layer {lm.spec.n_layers} ({alt_top_name(lm)})"] * n
    return [f"layer {k}" for k in range(n)]


def zero_vectors(
    lm: LoadedModel, view: View, found: Sequence[np.ndarray], what: str, n: int, labels: RowLabels
) -> ZeroVectors:
    """The :class:`~layerwise.measure.undefined.ZeroVectors` of ``n`` rows (``what`` they
    are, ``labels`` describing them) of ``lm``'s states, ``found`` on the layers of
    ``view``."""
    return ZeroVectors(lm.spec.name, what, n, found, labels, layer_names(lm, view, len(found)))


def per_layer(
    lm: LoadedModel,
    ex: Extracted,
    score: Callable[[View], Iterable],
    notes: Callable[[View], Sequence[str]] | None = None,
    **cols,
) -> list[dict]:
    """Rows of ``score`` on every layer, plus the top layer in the other convention.

    ``score`` receives a view (:data:`NATIVE` or :data:`ALT_TOP`) to apply to
    each :class:`Extracted` it reads (one ``[n, d]`` layer at a time) and returns one value
    per layer of the view. ``notes``, called with the same view after ``score``, returns
    one note per layer (``""``: none); a row with a note gets a ``note`` column, and the
    note is warned about (:func:`~layerwise.measure.undefined.warn_notes`).
    """
    name = lm.spec.name
    values = list(score(NATIVE))
    rows = [
        {"model": name, "layer": layer, "top": "native", **cols, **_value_columns(v)}
        for layer, v in enumerate(values)
    ]
    said = list(notes(NATIVE)) if notes else []
    alt = alt_top_name(lm)
    if alt is not None and ex.top_alt is not None:
        (v,) = score(ALT_TOP)
        rows.append(
            {"model": name, "layer": lm.spec.n_layers, "top": alt, **cols, **_value_columns(v)}
        )
        if notes:
            said += list(notes(ALT_TOP))
    for row, note in zip(rows, said, strict=False):
        if note:
            row["note"] = note
    warn_notes(said)
    return rows


def _value_columns(v: float | Score) -> dict:
    if isinstance(v, Score):
        return {"value": v.value, "low": v.low, "high": v.high, "n": v.n}
    return {"value": float(v)}


def as_settings(
    settings: Sequence[str] | str, known: Iterable[str], what: str, argument: str = "settings"
) -> list[str]:
    """``settings`` as a list, each one checked against ``known`` (InputError listing them);
    an empty list is an InputError naming ``argument`` (it would measure nothing)."""
    if isinstance(settings, str):
        settings = [settings]
    settings = list(settings)
    if not settings:
        raise InputError(f"{argument} is empty: choose at least one of {sorted(known)}")
    check_settings(settings, known, what)
    return settings


def require_items(items: Sequence[T], argument: str, what: str, *, at_least: int = 1) -> list[T]:
    """``items`` as a list; an :class:`~layerwise.errors.InputError` naming ``argument`` when
    it holds fewer than ``at_least`` (an empty list of sentences, words, pairs or models is
    refused before any work, never measured as nothing or as a default set)."""
    if isinstance(items, str):
        raise InputError(f"{argument} must be a list of {what}s, got the single string {items!r}")
    items = list(items)
    if len(items) < at_least:
        need = f"at least {at_least} {what}s" if at_least > 1 else f"at least one {what}"
        got = "is empty" if not items else f"holds {len(items)}"
        raise InputError(f"{argument} {got}: give {need}")
    return items


def check_settings(settings: Iterable[str], known: Iterable[str], what: str) -> None:
    """Raise an :class:`~layerwise.errors.InputError` listing the choices for an unknown
    setting (or measure, or task) in ``settings``."""
    bad = sorted(set(settings) - set(known), key=str)
    if bad:
        raise InputError(f"unknown {what} setting(s) {bad}; choose from {sorted(known)}")
