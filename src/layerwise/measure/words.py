"""Word tasks: the word-similarity sets of the dataset registry (RG65, WS353, SimLex-999,
SimVerb-3500 and any registered at run time; Spearman) and ValNorm (Pearson), per layer,
in each word setting of Table 1 (chapter 4).

A word whose state is a zero vector at a layer makes the cosines and effect sizes that need
it undefined (NaN), and so the task's correlation at that layer (no item is dropped); the
row's ``note`` names the model, the layer and the word's token
(:mod:`layerwise.measure.undefined`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .. import data
from ..errors import InputError
from ..extract.requests import WORD_SETTINGS, Request, clean_texts, unique, word_requests
from ..extract.states import Extracted
from ..models.spec import LoadedModel
from ..stats.correlation import Score
from ..stats.geometry import cosine_rows
from ..stats.scores import (
    sc_weat_effect_sizes,
    scores_of_cosines,
    scores_of_effect_sizes,
    valnorm_scores,
    warn_undefined,
    word_similarity_scores,
)
from .common import (
    MeasureOptions,
    View,
    as_settings,
    check_settings,
    extract_states,
    noted_table,
    over_layers,
    per_layer,
    require_items,
    stack_layers,
    unknown_note,
    with_note,
    zero_vectors,
)
from .undefined import (
    ZERO,
    RowLabels,
    ZeroVectors,
    describe_read,
    needing_items,
    notes_last,
    with_zero_rows,
)


def word_tasks() -> tuple[str, ...]:
    """The word tasks: the registry's word-similarity sets (Spearman), then ValNorm
    (Pearson); read from :data:`~layerwise.data.registry.DATASETS` at each call, so a dataset
    registered at run time (:func:`~layerwise.data.register.register_dataset`) is included."""
    return (*data.word_similarity_tasks(), "valnorm")


def __getattr__(name: str) -> object:
    # WORD_TASKS: :func:`word_tasks` at each access (a module-level tuple would miss a
    # dataset registered after import).
    if name == "WORD_TASKS":
        return word_tasks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: Which subtoken represents a word the tokenizer splits (the paper reads the ``last``).
SUBTOKENS = ("last", "first")


def word_states(
    lm: LoadedModel,
    words: Sequence[str],
    settings: Sequence[str],
    s: MeasureOptions,
    *,
    leading_space: bool = False,
) -> dict[str, Extracted]:
    """States of each word in each word setting: row ``i`` is ``words[i]``.

    The caller's order and repeats are kept (each distinct word is extracted once and
    its row repeated); words are stripped of surrounding whitespace, and a bare string
    (rather than a list of words) is an :class:`~layerwise.errors.InputError`, as are an
    empty list of words or settings and an unknown setting. "wrapped" and "eos" read the
    same input, so they share one forward pass.
    """
    if isinstance(words, str):
        raise InputError(f"word_states needs a list of words, got the single string {words!r}")
    settings = as_settings(settings, WORD_SETTINGS, "word", "word_states: settings")
    cleaned = require_items(clean_texts(words, "word"), "word_states: words", "word")
    distinct = unique(cleaned)
    row = {w: i for i, w in enumerate(distinct)}
    expand = np.array([row[w] for w in cleaned], dtype=np.int64)
    out: dict[str, Extracted] = {}
    tag = f"words n={len(distinct)} space={leading_space}"
    if "wrapped" in settings or "eos" in settings:

        def both() -> list[Request]:
            last = word_requests(lm, distinct, "wrapped", leading_space=leading_space)
            close = word_requests(lm, distinct, "eos", leading_space=leading_space)
            return [Request(a.ids, a.reads + b.reads) for a, b in zip(last, close, strict=True)]

        ex = extract_states(lm, both, f"{tag} wrapped+eos", s)
        out["wrapped"], out["eos"] = ex.take(slice(0, None, 2)), ex.take(slice(1, None, 2))
    if "bare" in settings:
        out["bare"] = extract_states(
            lm,
            lambda: word_requests(lm, distinct, "bare", leading_space=leading_space),
            f"{tag} bare",
            s,
        )
    if distinct == cleaned:
        return {k: out[k] for k in settings}
    return {k: out[k].take(expand) for k in settings}


def all_task_words() -> list[str]:
    """Every word the word tasks (:func:`word_tasks`) need, attribute words included."""
    words: list[str] = []
    for task in data.word_similarity_tasks():
        for p in data.load_word_pairs(task):
            words += [p.word1, p.word2]
    words += [w.word for w in data.load_valnorm()] + list(data.PLEASANT + data.UNPLEASANT)
    return unique(words)


@dataclass(frozen=True)
class TaskItems:
    """A word task's items as rows of :func:`all_task_words`, and its human target.

    ``rows``: for a similarity task (``method="spearman"``) the first and second word of
    each pair; for ValNorm (``method="pearson"``) the target words, the pleasant and the
    unpleasant attribute words. ``target``: ``[n_items]`` human ratings or valence.
    """

    task: str
    rows: tuple[np.ndarray, ...]
    target: np.ndarray
    method: str

    @property
    def items(self) -> str:
        """What the items are, for a note: ``pairs`` or ``target words``."""
        return "target words" if self.method == "pearson" else "pairs"

    @property
    def statistic(self) -> str:
        return "Pearson's r" if self.method == "pearson" else "Spearman's rho"

    def scores(
        self, arrays: Sequence[np.ndarray], *, rng, n_resamples: int, memo=None
    ) -> list[Score]:
        """Per-layer :class:`~layerwise.stats.correlation.Score` of the task on ``arrays``
        (the states of :attr:`rows`, each ``[n, L, d]``); NaN where a value needs a zero
        vector."""
        kw = {"rng": rng, "n_resamples": n_resamples, "memo": memo, "zero_rows": "nan"}
        if self.method == "pearson":
            return valnorm_scores(*arrays, self.target, **kw)
        return word_similarity_scores(*arrays, self.target, **kw)

    def values(self, x: np.ndarray) -> np.ndarray:
        """The task's per-item values on one layer: ``x`` is that layer's states ``[n, d]``
        of every word of :func:`all_task_words` (in its order); returns float64 ``[n_items]``,
        the cosine of each pair (similarity tasks) or the SC-WEAT effect size of each target
        word (ValNorm; NaN where undefined, warned about by :meth:`score_values`). An item
        that needs a zero vector (``needs``) is NaN."""
        arrays = [x[r] for r in self.rows]
        if self.method == "pearson":
            return sc_weat_effect_sizes(*arrays, warn=False, zero_rows="nan")
        return cosine_rows(*arrays, zero_rows="nan")

    def needs(self, zero: np.ndarray) -> np.ndarray:
        """Which items need one of the rows ``zero`` (a layer's zero vectors): bool
        ``[n_items]``; a pair needs its two words, an effect size its target word and every
        attribute word."""
        if self.method == "pearson":
            return needing_items(zero, self.rows[:1], every=self.rows[1:])
        return needing_items(zero, self.rows)

    def notes(self, vectors: ZeroVectors) -> list[str]:
        """One note per layer of ``vectors`` (the zero vectors of the states of
        :func:`all_task_words`): which items, and so the task's score, are undefined."""
        return [
            vectors.items_note(i, self.needs(found), self.items, self.statistic)
            for i, found in enumerate(vectors.found)
        ]

    def score_values(self, values: np.ndarray, *, rng, n_resamples: int, memo=None) -> list[Score]:
        """Per-layer :class:`~layerwise.stats.correlation.Score` of the task from its item
        values ``[n_items, L]`` (:meth:`values` of each layer, stacked): the same numbers as
        :meth:`scores` on the states of every layer at once."""
        if self.method == "pearson":
            warn_undefined(values)
            return scores_of_effect_sizes(
                values, self.target, rng=rng, n_resamples=n_resamples, memo=memo
            )
        return scores_of_cosines(values, self.target, rng=rng, n_resamples=n_resamples, memo=memo)


def task_items(task: str) -> TaskItems:
    """The items of one word task (:func:`word_tasks`), as rows of :func:`all_task_words`.

    Read once per datasets folder, registry state and task (chapter 7 asks for every task
    once per model and postprocessing method); the arrays are shared, so callers must not
    modify them.
    """
    as_settings(task, word_tasks(), "word task")
    return _task_items(task, data.dataset_dir(), tuple(data.DATASETS.values()))


@lru_cache(maxsize=32)
def _task_items(task: str, root: Path, registry: tuple) -> TaskItems:
    index = {w: i for i, w in enumerate(all_task_words())}
    rows = lambda words: np.array([index[w] for w in words], dtype=np.int64)  # noqa: E731
    if task == "valnorm":
        lex = data.load_valnorm()
        return TaskItems(
            task,
            (rows(w.word for w in lex), rows(data.PLEASANT), rows(data.UNPLEASANT)),
            np.array([w.valence for w in lex]),
            "pearson",
        )
    pairs = data.load_word_pairs(task)
    return TaskItems(
        task,
        (rows(p.word1 for p in pairs), rows(p.word2 for p in pairs)),
        np.array([p.score for p in pairs]),
        "spearman",
    )


def word_task_scores(
    lm: LoadedModel,
    settings: Sequence[str] = ("bare", "wrapped", "eos"),
    s: MeasureOptions | None = None,
    *,
    tasks: Sequence[str] | None = None,
    leading_space: bool = False,
) -> pd.DataFrame:
    """Per-layer scores on the word tasks (``tasks``, default :func:`word_tasks`: RG65,
    WS353, SL999, SV3500 and any registered word-similarity set, Spearman; ValNorm, Pearson).

    One row per setting, task and layer (plus the other top-layer convention), with the
    95% bootstrap interval (``low``, ``high``) over items and ``n`` items; paper section 4.2,
    Table 1 (chapter 4). A task some of whose items read a word the tokenizer maps to its
    unknown token says so in a ``note`` column (``unknown_notes``; the column is there
    only when some task needs it). Raises :class:`~layerwise.errors.InputError` for an unknown
    setting or task, or an empty list of either.
    """
    s = MeasureOptions() if s is None else s
    settings = as_settings(settings, WORD_SETTINGS, "word", "word_task_scores: settings")
    tasks = as_settings(
        word_tasks() if tasks is None else tasks,
        word_tasks(),
        "word task",
        "word_task_scores: tasks",
    )
    words = all_task_words()
    states = word_states(lm, words, settings, s, leading_space=leading_space)
    items = {task: task_items(task) for task in tasks}
    notes = unknown_notes(lm, items, leading_space)
    rows: list[dict] = []
    for setting, ex in states.items():
        values = _LayerValues(ex, {task: items[task].values for task in tasks})
        labels = word_labels(lm, words, setting, leading_space=leading_space)
        for task in tasks:
            rng = s.rng("word task", task, setting)

            def measure(view, it=items[task], task=task, r=rng, values=values):
                return it.score_values(
                    values(view, task), rng=r, n_resamples=s.n_resamples, memo=s.memo
                )

            def zero_notes(view, it=items[task], values=values, ex=ex, labels=labels):
                return it.notes(zero_vectors(lm, view, values.zero(view), "words", len(ex), labels))

            rows += with_note(
                per_layer(lm, ex, measure, zero_notes, setting=setting, task=task), notes[task]
            )
    df = noted_table(rows)
    df["leading_space"] = leading_space
    return notes_last(df)


def word_labels(
    lm: LoadedModel,
    words: Sequence[str],
    setting: str,
    *,
    subtoken: str = "last",
    leading_space: bool = False,
) -> RowLabels:
    """What each row of word states is (row ``i``: ``words[i]`` in ``setting``): the token
    read (:func:`subtoken_requests`) and the word, for a note."""

    def labels(rows: Sequence[int]) -> list[str]:
        chosen = [words[int(i)] for i in rows]
        reqs = subtoken_requests(
            lm, chosen, setting, subtoken=subtoken, leading_space=leading_space
        )
        return [describe_read(lm, w, r.ids, r.reads[0]) for w, r in zip(chosen, reqs, strict=True)]

    return labels


def unknown_notes(lm: LoadedModel, items: dict[str, TaskItems], leading_space: bool) -> dict:
    """Task -> its :func:`~.common.unknown_note` (``""`` for most): how many of its pairs
    (ValNorm: words; all of them when an attribute word is one) read a word that ``lm``'s
    tokenizer maps to its unknown token, as the word is presented (``leading_space``)."""
    shown = [" " + w if leading_space else w for w in all_task_words()]
    unknown = set(lm.unknown_texts(shown)) if lm.unknown_id is not None else set()
    notes = {}
    for task, it in items.items():
        if not unknown:
            notes[task] = ""
        elif it.method == "pearson":
            targets, pleasant, unpleasant = it.rows
            every = [shown[i] for i in (*pleasant, *unpleasant)]
            notes[task] = unknown_note(lm, [[shown[i]] for i in targets], "words", every, unknown)
        else:
            pairs = [[shown[i], shown[j]] for i, j in zip(*it.rows, strict=True)]
            notes[task] = unknown_note(lm, pairs, "pairs", unknown=unknown)
    return notes


class _LayerValues:
    """Per-item values of several tasks on the layers of one :class:`Extracted`, each view
    read once (one layer at a time, :func:`~.common.over_layers`) and kept: ``values(view,
    task)`` is the task's ``[n_items, n_layers]``, ``zero(view)`` the zero rows of each
    layer."""

    def __init__(self, ex: Extracted, fns) -> None:
        self.ex, self.fns, self.held = ex, with_zero_rows(fns), {}

    def _read(self, view: View) -> dict:
        if view not in self.held:
            self.held[view] = over_layers(view, self.ex, self.fns)
        return self.held[view]

    def __call__(self, view: View, task: str) -> np.ndarray:
        return stack_layers(self._read(view)[task])

    def zero(self, view: View) -> list[np.ndarray]:
        return self._read(view)[ZERO]


def subtoken_requests(
    lm: LoadedModel,
    words: Sequence[str],
    setting: str,
    *,
    subtoken: str = "last",
    leading_space: bool = False,
) -> list[Request]:
    """One request per word in a Table 1 setting, reading its ``last`` or ``first`` subtoken.

    ``last`` is the paper's rule and gives
    :func:`~layerwise.extract.requests.word_requests` unchanged. ``first`` reads the word's
    first subtoken instead: position 0 in the ``bare`` setting, the position after the open
    token in ``wrapped``. A word the tokenizer keeps whole has one subtoken, read by both
    rules. The ``eos`` setting reads the closing token, so only ``last`` is accepted there;
    an unknown setting or subtoken is an :class:`~layerwise.errors.InputError`.
    """
    check_settings([subtoken], SUBTOKENS, "subtoken")
    if setting == "eos" and subtoken != "last":
        raise InputError("the eos setting reads the closing token: choose subtoken='last'")
    reqs = word_requests(lm, words, setting, leading_space=leading_space)
    if subtoken == "last":
        return reqs
    first = 1 if setting == "wrapped" else 0
    return [Request(r.ids, ((first, first + 1),)) for r in reqs]


def word_pair_scores(
    lm: LoadedModel,
    pairs: Sequence[data.WordPair],
    s: MeasureOptions | None = None,
    *,
    setting: str = "wrapped",
    subtoken: str = "last",
    leading_space: bool = False,
    task: str = "pairs",
) -> pd.DataFrame:
    """Per-layer Spearman's rho between word-pair cosines and ratings, for any list of pairs.

    The estimator of chapter 4's similarity tasks on pairs the caller chooses: a data set
    that does not ship with the package, or a part of one. Only the words of ``pairs``
    are extracted (each distinct word once); ``subtoken`` picks the subtoken that
    represents a word split into several (:func:`subtoken_requests`). Returns one row per
    layer, plus the top layer in the other final-norm convention: ``model``, ``layer``,
    ``top``, ``setting``, ``subtoken``, ``task`` (the label given), ``value``, and the 95%
    bootstrap interval over pairs ``low``, ``high`` with ``n`` pairs. Fewer than three pairs
    is an :class:`~layerwise.errors.InputError`.
    """
    s = MeasureOptions() if s is None else s
    pairs = require_items(pairs, "word_pair_scores: pairs", "pair", at_least=3)
    first = clean_texts([p.word1 for p in pairs], "word")
    second = clean_texts([p.word2 for p in pairs], "word")
    distinct = unique(first + second)
    row = {w: i for i, w in enumerate(distinct)}
    reqs = subtoken_requests(lm, distinct, setting, subtoken=subtoken, leading_space=leading_space)
    label = f"word pairs {setting} subtoken={subtoken} space={leading_space}"
    ex = extract_states(lm, reqs, label, s)
    ia = np.array([row[w] for w in first], dtype=np.int64)
    ib = np.array([row[w] for w in second], dtype=np.int64)
    human = np.array([p.score for p in pairs])
    rng = s.rng("word pairs")
    labels = word_labels(lm, distinct, setting, subtoken=subtoken, leading_space=leading_space)
    zero: dict = {}

    def measure(view):
        fns = with_zero_rows({"cos": lambda x: cosine_rows(x[ia], x[ib], zero_rows="nan")})
        read = over_layers(view, ex, fns)
        zero[view] = read[ZERO]
        return scores_of_cosines(
            stack_layers(read["cos"]), human, rng=rng, n_resamples=s.n_resamples, memo=s.memo
        )

    def notes(view):
        vectors = zero_vectors(lm, view, zero[view], "words", len(distinct), labels)
        return [
            vectors.items_note(i, needing_items(found, (ia, ib)), "pairs", "Spearman's rho")
            for i, found in enumerate(vectors.found)
        ]

    rows = per_layer(lm, ex, measure, notes, setting=setting, subtoken=subtoken, task=task)
    space = " " if leading_space else ""
    pairs_read = [[space + a, space + b] for a, b in zip(first, second, strict=True)]
    df = noted_table(with_note(rows, unknown_note(lm, pairs_read, "pairs")))
    df["leading_space"] = leading_space
    return notes_last(df)
