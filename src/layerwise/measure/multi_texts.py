"""Chapter 7's texts: the sets every compared model reads, filtered to every model's window.

A comparison (``python -m layerwise compare``,
:func:`~layerwise.measure.multi.compare_tables`) measures its models on the same texts,
so each set is filtered once for all of them (:func:`compare_texts`), as chapter 1
filters the CWE sentences:

- the CWE sample's sentences (STS 2012-2016):
  :func:`~layerwise.measure.cwe.cwe_sentence_set` (every model's native input, and CLIP's
  exact tokenizer, whose 77-token window always applies);
- the STS-B test sentences: a sentence is kept when it fits every model in every sentence
  setting the comparison reads (:data:`COMPARED_SENTENCE_SETTINGS`; the longest of those
  inputs, its special tokens counted, must fit), and a pair when both its sentences are;
- the word tasks' words in :data:`WORD_SETTING` (the word between the open and close
  tokens): a word-similarity pair is kept when both its words fit, a ValNorm word when it
  fits, and the attribute words that fit stay ValNorm's attribute sets.

When every text fits every model the sets are the full ones (:attr:`CompareTexts.full`),
so the states, the cache keys and the tables are those of an unfiltered run. A set left
with too few items (:data:`MIN_ITEMS`; the CWE sentences: fewer real tokens than the
sample draws) is an :class:`~layerwise.errors.InputError` naming the set, the models that
drop its items, the counts and a remedy, raised before any state is extracted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .. import data
from ..errors import InputError
from ..extract.requests import sentence_requests, word_requests
from ..models.spec import LoadedModel
from ..store.cached import cached_value
from ..store.keys import model_identity, texts_digest
from .common import MeasureOptions
from .cwe import cwe_sentence_set, cwe_sentences
from .words import TaskItems, all_task_words, task_items, word_tasks

#: The word setting the comparison reads for the word tasks (Table 1's CLIP row and
#: GPT-2 "with BOS" row use ``wrapped``).
WORD_SETTING = "wrapped"
#: The sentence settings the comparison reads for STS-B.
COMPARED_SENTENCE_SETTINGS = ("eos", "mean")
#: STS-B pairs with a gold score at least this high are alignment's positive pairs.
ALIGNMENT_GOLD = 4.0
#: The fewest items a filtered set may keep (STS-B pairs, alignment's pairs, each word
#: task's items, each ValNorm attribute set): fewer is an InputError, not a table of
#: correlations over a handful of items.
MIN_ITEMS = 10


@dataclass(frozen=True)
class SetFilter:
    """How one text set of a comparison was filtered to the models' windows.

    ``name``: the set (``"STS-B test pairs"``); ``unit``: what is counted (``"pairs"``);
    ``total`` and ``kept``: items before and after; ``dropped_by_model``: model name ->
    the items that model's window alone drops; ``limits``: model name -> its window
    (tokens).
    """

    name: str
    unit: str
    total: int
    kept: int
    dropped_by_model: dict[str, int]
    limits: dict[str, int]

    @property
    def dropped(self) -> int:
        """Items dropped (by any model)."""
        return self.total - self.kept

    def summary(self) -> str:
        """One line, e.g. ``"STS-B test pairs: kept 1,118 of 1,379 pairs; dropped 261
        (gpt2c: 261, tiny GPT-2 (random): 0)"``."""
        detail = ", ".join(f"{m}: {n:,}" for m, n in self.dropped_by_model.items())
        return (
            f"{self.name}: kept {self.kept:,} of {self.total:,} {self.unit}; "
            f"dropped {self.dropped:,} ({detail})"
        )

    def as_dict(self) -> dict:
        """The record ``provenance.json`` keeps: total, kept, dropped, per model, limits."""
        return {
            "unit": self.unit,
            "total": self.total,
            "kept": self.kept,
            "dropped": self.dropped,
            "dropped_by_model": dict(self.dropped_by_model),
            "limits": dict(self.limits),
        }


@dataclass(frozen=True)
class CompareTexts:
    """The texts a comparison measures, the same for every model.

    ``cwe``: the sentences the CWE sample is drawn from; ``sentences``: the STS-B test
    sentences (the rows of the sentence states), in the order of
    ``sts_benchmark_sentences``; ``pairs``: the STS-B test pairs, each
    of two of ``sentences``; ``words``: the word tasks' words (the rows of the word
    states), a subset of :func:`~layerwise.measure.words.all_task_words` in its order;
    ``filters``: how each set was filtered (:func:`compare_texts`; empty for
    :func:`full_texts`). Raises :class:`~layerwise.errors.InputError` for a pair whose
    sentence is not one of ``sentences``.
    """

    cwe: tuple[str, ...]
    sentences: tuple[str, ...]
    pairs: tuple[data.StsPair, ...]
    words: tuple[str, ...]
    filters: tuple[SetFilter, ...] = ()
    _all_sts: bool = field(init=False, repr=False, compare=False)
    _all_words: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        known = set(self.sentences)
        for p in self.pairs:
            if p.sentence1 not in known or p.sentence2 not in known:
                raise InputError(
                    f"STS-B pair {p.sid!r} of {p.file!r}: a sentence is not one of the "
                    "texts' sentences; keep a pair only with both its sentences"
                )
        every = data.load_sts_benchmark()
        all_sts = self.pairs == tuple(every) and self.sentences == tuple(
            data.sts_benchmark_sentences(every)
        )
        object.__setattr__(self, "_all_sts", all_sts)
        object.__setattr__(self, "_all_words", self.words == tuple(all_task_words()))

    @property
    def full(self) -> bool:
        """Whether every STS-B test sentence and pair and every task word is kept (then the
        states, keys and tables are those of an unfiltered comparison)."""
        return self._all_sts and self._all_words

    def key(self) -> dict[str, str]:
        """The part of a cache key naming these texts: empty when :attr:`full` (so an
        unfiltered comparison keeps its keys), else a digest of the kept sentences, pairs
        (gold scores included) and words. The CWE sentences are keyed by their callers."""
        if self.full:
            return {}
        lines = [f"{p.score!r}\t{p.sentence1}\t{p.sentence2}" for p in self.pairs]
        digest = texts_digest(lines, sentences=list(self.sentences), words=list(self.words))
        return {"texts": digest}

    def task_items(self, task: str) -> TaskItems:
        """A word task's :class:`~layerwise.measure.words.TaskItems` as rows of
        ``words``: the items whose words were all kept (and, for ValNorm, the attribute
        words kept), with their targets."""
        if self._all_words:
            return task_items(task)
        if task not in self._tasks:
            self._tasks[task] = _restricted(task_items(task), self.words)
        return self._tasks[task]

    @cached_property
    def _tasks(self) -> dict[str, TaskItems]:
        return {}  # task -> its items as rows of the kept words, made on first use

    def report(self) -> dict[str, dict]:
        """Set name -> :meth:`SetFilter.as_dict`, for ``provenance.json``."""
        return {f.name: f.as_dict() for f in self.filters}


def _restricted(items: TaskItems, words: Sequence[str]) -> TaskItems:
    """``items`` (rows of :func:`all_task_words`) as rows of ``words`` (a subset of them in
    their order): a similarity pair kept when both its words are, a ValNorm target word
    when it is; ValNorm's attribute rows keep the attribute words kept."""
    new = {w: i for i, w in enumerate(words)}
    old_to_new = np.array([new.get(w, -1) for w in all_task_words()], dtype=np.int64)
    mapped = [old_to_new[r] for r in items.rows]
    if items.method == "pearson":  # ValNorm: target words are the items, then attributes
        keep = mapped[0] >= 0
        rows = (mapped[0][keep], *(r[r >= 0] for r in mapped[1:]))
    else:
        keep = np.all([r >= 0 for r in mapped], axis=0)
        rows = tuple(r[keep] for r in mapped)
    return TaskItems(items.task, rows, items.target[keep], items.method)


def full_texts(cwe: Sequence[str]) -> CompareTexts:
    """``cwe`` with every STS-B test pair and every task word: the texts of a comparison
    that filters nothing beyond its CWE sentences."""
    if isinstance(cwe, str):
        raise InputError(f"expected a list of CWE sentences, got the single string {cwe!r}")
    pairs = data.load_sts_benchmark()
    sentences = data.sts_benchmark_sentences(pairs)
    return CompareTexts(tuple(cwe), tuple(sentences), tuple(pairs), tuple(all_task_words()))


def as_texts(texts: CompareTexts | Sequence[str]) -> CompareTexts:
    """``texts`` itself, or a list of CWE sentences as :func:`full_texts`."""
    return texts if isinstance(texts, CompareTexts) else full_texts(texts)


def input_lengths(
    lm: LoadedModel,
    texts: Sequence[str],
    setting: str,
    s: MeasureOptions | None = None,
    *,
    words: bool = False,
) -> list[int]:
    """Tokens of each text's input in ``setting``, special tokens included (the length of
    its :class:`~layerwise.extract.requests.Request`: a sentence setting of
    :func:`~layerwise.extract.requests.sentence_requests`, or with ``words`` a word setting
    of :func:`~layerwise.extract.requests.word_requests`), cached in ``s.cache``."""
    texts = list(texts)
    build = word_requests if words else sentence_requests
    compute = lambda: [len(r.ids) for r in build(lm, texts, setting)]  # noqa: E731
    cache = s.cache if s is not None else None
    return list(
        cached_value(
            cache,
            "input lengths",
            compute,
            model=model_identity(lm),
            texts=texts_digest(texts, setting=setting, words=words),
        )
    )


def count_tokens(lm: LoadedModel, s: MeasureOptions) -> None:
    """Compute and cache every count :func:`compare_texts` reads for ``lm``: a worker's
    share of a sweep, so the coordinator tokenizes nothing."""
    cwe_sentences([lm], s)
    sentences = data.sts_benchmark_sentences(data.load_sts_benchmark())
    for setting in COMPARED_SENTENCE_SETTINGS:
        input_lengths(lm, sentences, setting, s)
    input_lengths(lm, all_task_words(), WORD_SETTING, s, words=True)


def _labels(models: Sequence[LoadedModel]) -> list[str]:
    """Each model's name, or ``name [source]`` where two models share a name."""
    names = [lm.spec.name for lm in models]
    return [
        n if names.count(n) == 1 else f"{n} [{lm.spec.source}]"
        for n, lm in zip(names, models, strict=True)
    ]


def _lookup(texts: Sequence[str], counts: Sequence[int]) -> Callable[[str], int]:
    table = dict(zip(texts, counts, strict=True))
    return lambda text: table[text]


def _counts(
    models: Sequence[LoadedModel],
    labels: Sequence[str],
    texts: Sequence[str],
    settings: Sequence[str],
    s: MeasureOptions,
    *,
    words: bool = False,
) -> dict[str, tuple[Callable[[str], int], int]]:
    """Counters for :func:`~layerwise.data.window.filter_to_window`: each model's longest
    input over ``settings`` against its window."""
    counters = {}
    for label, lm in zip(labels, models, strict=True):
        per = [input_lengths(lm, texts, st, s, words=words) for st in settings]
        longest = [max(c) for c in zip(*per, strict=True)]
        counters[label] = (_lookup(texts, longest), lm.spec.max_length)
    return counters


def _items_filter(
    name: str,
    unit: str,
    items: Sequence[Sequence[str]],
    fits: Mapping[str, Callable[[str], bool]],
    limits: dict[str, int],
) -> tuple[SetFilter, np.ndarray]:
    """A :class:`SetFilter` of items made of texts (each item: its texts), an item kept when
    all its texts fit every model, and the mask of kept items."""
    ok = {m: np.array([all(f(t) for t in item) for item in items], bool) for m, f in fits.items()}
    keep = np.all(list(ok.values()), axis=0) if ok else np.ones(len(items), bool)
    by_model = {m: int((~v).sum()) for m, v in ok.items()}
    return SetFilter(name, unit, len(items), int(keep.sum()), by_model, dict(limits)), keep


def compare_texts(
    models: Sequence[LoadedModel],
    s: MeasureOptions,
    log: Callable[[str], None] | None = None,
) -> CompareTexts:
    """The texts of a comparison of ``models``, each set filtered to every model's window
    (this module's docstring says how); token counts are cached in ``s.cache``, so the
    models' weights are never needed (a lazily loaded model is enough).

    ``log`` gets one line per set that lost items (:meth:`SetFilter.summary`) and one
    naming the sets kept whole. Returns a :class:`CompareTexts` (:attr:`~CompareTexts.full`
    when no STS-B pair and no word is dropped).

    Raises :class:`~layerwise.errors.InputError` naming every set left with too few items
    (fewer than :data:`MIN_ITEMS`; for the CWE sentences, fewer real tokens of a model than
    ``s.n_cwe``), the models whose windows drop them, the counts and the remedy.
    """
    models = list(models)
    if not models:
        raise InputError("compare_texts needs at least one model")
    labels = _labels(models)
    cwe, cwe_filters, cwe_problems = _cwe_set(models, s)
    (sentences, pairs), sts_filters, sts_problems = _sts_set(models, labels, s)
    words, word_filters, word_problems = _word_set(models, labels, s)
    problems = cwe_problems + sts_problems + word_problems
    if problems:
        raise InputError(_refusal(problems, labels, models, bool(cwe_problems)))
    filters = (*cwe_filters, *sts_filters, *word_filters)
    texts = CompareTexts(cwe, sentences, pairs, words, filters=filters)
    if log is not None:
        for f in filters:
            if f.dropped:
                log(f"window: {f.summary()}")
        whole = [f.name for f in filters if not f.dropped]
        if whole:
            log(f"window: every item fits every model in {', '.join(whole)}")
    return texts


#: A problem: its line, and the filter of the set it is about.
Problem = tuple[str, SetFilter]
Part = tuple[tuple, list[SetFilter], list[Problem]]


def _refusal(
    problems: Sequence[Problem],
    labels: Sequence[str],
    models: Sequence[LoadedModel],
    cwe_short: bool,
) -> str:
    """The InputError's message: the models' windows, each problem, and the remedy naming
    the models whose windows drop the texts (CLIP's tokenizer, always applied to the CWE
    sentences, is not one to leave out)."""
    windows = ", ".join(
        f"{label}: {lm.spec.max_length} tokens" for label, lm in zip(labels, models, strict=True)
    )
    culprits = list(
        dict.fromkeys(
            m for _, f in problems for m, n in f.dropped_by_model.items() if n and m in labels
        )
    )
    ways = []
    if culprits:
        ways.append(
            f"leave out {', '.join(culprits)} (a window too short for these texts), or "
            "compare models with longer windows"
        )
    if cwe_short:
        ways.append("draw a smaller CWE sample (--n-cwe)")
    return (
        f"too few texts fit the window of every compared model ({windows}): "
        + "; ".join(line for line, _ in problems)
        + ". Remedy: "
        + "; or ".join(ways)
    )


def _cwe_set(models: Sequence[LoadedModel], s: MeasureOptions) -> Part:
    """The CWE sentences kept (:func:`~layerwise.measure.cwe.cwe_sentence_set`), their
    filter, and a problem for each model whose real tokens in them are fewer than
    ``s.n_cwe``."""
    cwe = cwe_sentence_set(models, s)
    f = SetFilter(
        "STS 2012-2016 sentences (CWE sample)",
        "sentences",
        cwe.n_items,
        len(cwe.kept),
        dict(cwe.dropped_by_model),
        dict(cwe.limits),
    )
    kept = np.all([np.array(c) <= cwe.limits[m] for m, c in cwe.token_counts.items()], axis=0)
    short = {}
    for lm in models:
        wrap = len(lm.spec.prefix_ids) + len(lm.spec.suffix_ids)
        real = int((np.array(cwe.token_counts[lm.spec.name]) - wrap)[kept].sum())
        if real < s.n_cwe:
            short[lm.spec.name] = real
    problems = []
    if short:
        tokens = ", ".join(f"{m}: {n:,}" for m, n in short.items())
        problems.append(
            (
                f"{f.name}: the {f.kept:,} of {f.total:,} {f.unit} that fit every window hold "
                f"fewer real tokens than the {s.n_cwe:,} the sample draws (n_cwe; {tokens}; "
                f"{_responsible(f)})",
                f,
            )
        )
    return tuple(x.text for x in cwe.kept), [f], problems


def _fits(
    counters: Mapping[str, tuple[Callable[[str], int], int]],
) -> tuple[dict[str, Callable[[str], bool]], dict[str, int]]:
    """Model -> (text -> whether it fits the model's window), and model -> window."""
    fits = {m: (lambda t, f=f, n=n: f(t) <= n) for m, (f, n) in counters.items()}
    return fits, {m: limit for m, (_, limit) in counters.items()}


def _sts_set(models: Sequence[LoadedModel], labels: Sequence[str], s: MeasureOptions) -> Part:
    """The STS-B test sentences kept (each fits every model in every compared setting)
    and pairs kept (both sentences kept), the filters of the sentences, pairs and
    alignment pairs, and the problems."""
    pairs = data.load_sts_benchmark()
    sentences = data.sts_benchmark_sentences(pairs)
    fits, limits = _fits(_counts(models, labels, sentences, COMPARED_SENTENCE_SETTINGS, s))
    by_sentence, keep_sentence = _items_filter(
        "STS-B test sentences", "sentences", [(t,) for t in sentences], fits, limits
    )
    both = [(p.sentence1, p.sentence2) for p in pairs]
    by_pair, keep = _items_filter("STS-B test pairs", "pairs", both, fits, limits)
    close = [(p.sentence1, p.sentence2) for p in pairs if p.score >= ALIGNMENT_GOLD]
    name = f"STS-B test pairs with gold >= {ALIGNMENT_GOLD:g} (alignment)"
    by_close, _ = _items_filter(name, "pairs", close, fits, limits)
    kept = (
        tuple(t for t, k in zip(sentences, keep_sentence, strict=True) if k),
        tuple(p for p, k in zip(pairs, keep, strict=True) if k),
    )
    return kept, [by_sentence, by_pair, by_close], _too_few(by_pair, by_close)


def _word_set(models: Sequence[LoadedModel], labels: Sequence[str], s: MeasureOptions) -> Part:
    """The task words kept (each fits every model in :data:`WORD_SETTING`), the filters of
    the words and of each word task's items, and the problems."""
    words = all_task_words()
    fits, limits = _fits(_counts(models, labels, words, (WORD_SETTING,), s, words=True))
    by_word, keep = _items_filter(
        f"task words ({WORD_SETTING})", "words", [(w,) for w in words], fits, limits
    )
    filters, problems = [by_word], []
    every = np.array(words, dtype=object)
    for task in word_tasks():
        items = task_items(task)
        rows = items.rows
        if items.method == "pearson":  # target words, then the two attribute sets
            sides = ("target words", "pleasant attribute words", "unpleasant attribute words")
            sets = {
                f"{task} {side}": [(w,) for w in every[r]]
                for side, r in zip(sides, rows, strict=True)
            }
            unit = "words"
        else:
            sets = {f"{task} pairs": list(zip(every[rows[0]], every[rows[1]], strict=True))}
            unit = "pairs"
        for name, members in sets.items():
            f, _ = _items_filter(name, unit, members, fits, limits)
            filters.append(f)
            problems += _too_few(f)
    return tuple(w for w, k in zip(words, keep, strict=True) if k), filters, problems


def _responsible(f: SetFilter) -> str:
    """``"dropped by gpt2c: 261, ..."``: the models that drop items of ``f``, most first."""
    named = sorted(((n, m) for m, n in f.dropped_by_model.items() if n), reverse=True)
    if not named:
        return "no model drops any"
    return "dropped by " + ", ".join(f"{m}: {n:,}" for n, m in named)


def _too_few(*filters: SetFilter) -> list[Problem]:
    """A problem for each of ``filters`` left with fewer than :data:`MIN_ITEMS`."""
    return [
        (
            f"{f.name}: {f.kept:,} of {f.total:,} {f.unit} fit every window, fewer than the "
            f"{MIN_ITEMS} a score needs ({_responsible(f)})",
            f,
        )
        for f in filters
        if f.kept < min(MIN_ITEMS, f.total)
    ]
