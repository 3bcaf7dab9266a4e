"""Chapter 7's states: one model's CWE, word and sentence states, read one layer at a time.

A :class:`ModelStates` holds :class:`~layerwise.extract.states.Extracted` objects (cache
entries, or lazy views of them), never the arrays of every layer: the tables of
:mod:`layerwise.measure.multi_tables` and :mod:`layerwise.measure.multi_paired` read layer
``k`` of each sample (:meth:`ModelStates.layers`), compute what they need from it (per-item
cosines and effect sizes, per-layer estimates) and drop it before reading layer ``k + 1``,
so an analysis holds one layer's ``[n, d]`` states at a time (issue 17).

States are read with the arguments chapters 3-5 use (the CWE sample over the
window-filtered STS 2012-2016 sentences, every task word, the STS-B test sentences), so
with a warm extraction cache nothing is recomputed. A comparison of models with short
windows reads the texts that fit all of them
(:func:`~layerwise.measure.multi_texts.compare_texts`); the states' rows are those texts
(``ModelStates.texts``). A :class:`ModelStates` also says what each row of each sample
is (the token and the text), so a value that needs a zero vector is NaN with a note naming
it (``layerwise.measure.undefined``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import data
from ..extract.states import Extracted
from ..models.spec import LoadedModel
from ..stats.geometry import cosine_rows, find_zero_rows
from ..stats.postprocess import Postprocessor
from .common import NATIVE, MeasureOptions, zero_vectors
from .cwe import cwe_labels, cwe_states
from .multi_texts import (
    ALIGNMENT_GOLD,
    COMPARED_SENTENCE_SETTINGS,
    WORD_SETTING,
    CompareTexts,
    as_texts,
    compare_texts,
)
from .sentences import sentence_labels, sentence_states
from .undefined import RowLabels, ZeroVectors, needing_items, numbered
from .words import TaskItems, task_items, word_labels, word_states, word_tasks


@dataclass
class ModelStates:
    """One model's native hidden states for everything chapter 7 measures, each an
    :class:`~layerwise.extract.states.Extracted` of ``L+1`` layers read one at a time
    (``.layer(k)``, ``[n, d]``; ``.states`` reads every layer, for small models only).

    ``cwe``: the CWE sample ``[n_cwe, L+1, d]``; ``words``: the task words of ``texts`` in
    ``WORD_SETTING`` (every word of :func:`~.words.all_task_words` when nothing is
    filtered), in their order; ``sentences``: setting -> the STS-B test sentences of
    ``texts`` ``[n_sentences, L+1, d]``; ``texts``: the
    :class:`~layerwise.measure.multi_texts.CompareTexts` the rows are. ``labels``: what the
    rows of each sample are (``"cwe"``, ``"words"``, ``"sentences <setting>"`` ->
    ``RowLabels``; a sample missing here is numbered).
    """

    lm: LoadedModel
    cwe: Extracted
    words: Extracted
    sentences: dict[str, Extracted]
    texts: CompareTexts
    labels: dict[str, RowLabels] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.lm.spec.name

    @property
    def n_layers(self) -> int:
        return self.lm.spec.n_layers

    def zero_vectors(self, sample: str, found: Sequence[np.ndarray]) -> ZeroVectors:
        """The zero vectors ``found`` in each layer ``0..`` of ``sample`` (``"cwe"``,
        ``"words"`` or ``"sentences <setting>"``), described by :attr:`labels`."""
        if sample == "cwe":
            n, what = len(self.cwe), "sampled tokens"
        elif sample == "words":
            n, what = len(self.words), "words"
        else:
            n, what = len(self.sentences[sample.removeprefix("sentences ")]), "sentences"
        labels = self.labels.get(sample) or numbered(f"{sample} states")
        return zero_vectors(self.lm, NATIVE, found, what, n, labels)

    def sts(self) -> StsItems:
        """The STS-B pairs of :attr:`texts` as rows of :attr:`sentences`."""
        return sts_items(self.texts.pairs, self.texts.sentences)

    def tasks(self) -> dict[str, TaskItems]:
        """Each word task's items (:func:`~.words.word_tasks`) as rows of :attr:`words`."""
        return {task: self.texts.task_items(task) for task in word_tasks()}

    def layers(
        self, *, cwe: bool = True, words: bool = True, sentences: Sequence[str] | None = None
    ) -> Iterator[LayerStates]:
        """Layer ``0..L`` of the samples asked for (``sentences``: those settings; None:
        every setting held), one layer at a time: each :class:`LayerStates` is read when the
        iterator reaches it, so a consumer that drops it holds one layer."""
        settings = list(self.sentences) if sentences is None else list(sentences)
        for k in range(self.n_layers + 1):
            yield LayerStates(
                k,
                self.cwe.layer(k) if cwe else None,
                self.words.layer(k) if words else None,
                {st: self.sentences[st].layer(k) for st in settings},
            )


@dataclass
class LayerStates:
    """One layer's states of a :class:`ModelStates`: ``cwe`` ``[n_cwe, d]``, ``words``
    ``[n_words, d]`` and ``sentences`` (setting -> ``[n_sentences, d]``); a sample not read
    is None (absent for sentences)."""

    layer: int
    cwe: np.ndarray | None
    words: np.ndarray | None
    sentences: dict[str, np.ndarray]

    def transformed(self, pp: Postprocessor, method: str) -> LayerStates:
        """The same layer after ``method``, ``pp`` fitted on this layer's CWE sample
        (:meth:`~layerwise.stats.postprocess.Postprocessor.fit` of ``[n, d]``); float32."""
        if method == "raw":
            return self

        def apply(x: np.ndarray | None) -> np.ndarray | None:
            return None if x is None else pp.transform(x, method)

        sent = {st: apply(x) for st, x in self.sentences.items()}
        return LayerStates(self.layer, apply(self.cwe), apply(self.words), sent)  # type: ignore[arg-type]


def postprocessed_layers(
    ms: ModelStates,
    methods: Sequence[str],
    *,
    cwe: bool = False,
    sentences: Sequence[str] | None = None,
) -> Iterator[tuple[int, str, LayerStates]]:
    """``(layer, method, states)`` for every layer and method of ``methods``: the layer's
    word and sentence states (and CWE sample, with ``cwe``) after that postprocessing,
    fitted on the layer's CWE sample
    (:class:`~layerwise.stats.postprocess.Postprocessor`), one layer read at a time and
    one method's transformed copy made at a time. The CWE sample is read only when a
    method needs the fit or ``cwe`` asks for it."""
    fit = bool(set(methods) - {"raw"})
    for raw in ms.layers(cwe=fit or cwe, sentences=sentences):
        pp = Postprocessor.fit(raw.cwe) if fit else None
        if not cwe:  # read for the fit only: neither transformed nor given
            raw = LayerStates(raw.layer, None, raw.words, raw.sentences)
        for method in methods:
            x = raw if method == "raw" else raw.transformed(pp, method)  # type: ignore[arg-type]
            yield raw.layer, method, x
            del x  # before the next method's copy is made
        del raw, pp  # before the next layer is read


def gather_states(
    lm: LoadedModel,
    texts: CompareTexts | Sequence[str],
    s: MeasureOptions,
    sentence_settings: Sequence[str] = COMPARED_SENTENCE_SETTINGS,
) -> ModelStates:
    """Find (in the extraction cache when warm, else extracting) a model's CWE, word and
    sentence states of ``texts`` (a
    :class:`~layerwise.measure.multi_texts.CompareTexts`, or the CWE sentences alone:
    then every STS-B test pair and task word); nothing is read into memory here
    (:class:`ModelStates`)."""
    texts = as_texts(texts)
    cwe = cwe_states(lm, texts.cwe, s)
    words = list(texts.words)
    word = word_states(lm, words, (WORD_SETTING,), s)
    sentences = list(texts.sentences)
    sent = {st: sentence_states(lm, sentences, st, s, base=sentences) for st in sentence_settings}
    labels = {
        "cwe": cwe_labels(lm, texts.cwe, s),
        "words": word_labels(lm, words, WORD_SETTING),
    } | {f"sentences {st}": sentence_labels(lm, sentences, st) for st in sentence_settings}
    return ModelStates(lm, cwe, word[WORD_SETTING], sent, texts, labels)


def load_states(
    models: Sequence[LoadedModel], s: MeasureOptions, texts: CompareTexts | None = None
) -> list[ModelStates]:
    """States of every model over one set of texts that fits all of them: ``texts``, by
    default :func:`~layerwise.measure.multi_texts.compare_texts` of ``models`` (the CWEs
    drawn from the set of chapter 3 when the models' windows are no shorter than CLIP's;
    every STS-B pair and task word when they fit every window). Raises
    :class:`~layerwise.errors.InputError` when too few texts fit."""
    models = list(models)
    texts = compare_texts(models, s) if texts is None else texts
    return [gather_states(lm, texts, s) for lm in models]


def model_rows(
    ms: ModelStates, values: Sequence[float], notes: Sequence[str] = (), **cols
) -> list[dict]:
    """One row per layer of ``values`` with the model, layer and depth (layer / blocks);
    a layer with a non-empty note of ``notes`` (one per layer) gets a ``note`` column."""
    rows = [
        {"model": ms.name, "layer": layer, "depth": layer / ms.n_layers, **cols, "value": float(v)}
        for layer, v in enumerate(values)
    ]
    for row, note in zip(rows, notes, strict=False):
        if note:
            row["note"] = note
    return rows


@dataclass(frozen=True)
class StsItems:
    """The STS-B test pairs as rows of the sentence states: ``a``, ``b`` the first and second
    sentence of each pair (``[n_pairs]``), ``gold`` their scores; ``close_a``, ``close_b``
    the pairs with gold >= ``ALIGNMENT_GOLD`` (alignment's positive pairs)."""

    a: np.ndarray
    b: np.ndarray
    gold: np.ndarray
    close_a: np.ndarray
    close_b: np.ndarray


def sts_items(
    pairs: Sequence[data.StsPair] | None = None, sentences: Sequence[str] | None = None
) -> StsItems:
    """:class:`StsItems` of ``pairs`` (default: the 1,379 STS-B test pairs, read from the
    vendored file) as rows of ``sentences`` (default: the pairs' unique sentences,
    ``sts_benchmark_sentences``), which must hold every pair's two."""
    pairs = data.load_sts_benchmark() if pairs is None else list(pairs)
    sentences = data.sts_benchmark_sentences(pairs) if sentences is None else sentences
    index = {t: i for i, t in enumerate(sentences)}
    close = [p for p in pairs if p.score >= ALIGNMENT_GOLD]

    def rows(texts) -> np.ndarray:
        return np.array([index[t] for t in texts], dtype=np.int64)

    return StsItems(
        rows(p.sentence1 for p in pairs),
        rows(p.sentence2 for p in pairs),
        np.array([p.score for p in pairs]),
        rows(p.sentence1 for p in close),
        rows(p.sentence2 for p in close),
    )


def task_values(
    layer: LayerStates,
    sts: StsItems,
    sentence_settings: Sequence[str] | None = None,
    tasks: Mapping[str, TaskItems] | None = None,
) -> dict[tuple[str, str], np.ndarray]:
    """Per-item values of one layer, ``(task, setting) -> [n_items]``: each word task of
    :func:`~.words.word_tasks` on the layer's word states (pair cosines, ValNorm's SC-WEAT
    effect sizes, NaN where undefined) and STS-B's pair cosines in each sentence setting
    (default: every setting of the layer), in that order. ``tasks``: each task's items as
    rows of the word states (default: :func:`~.words.task_items`, every task word). An item
    that needs a zero vector is NaN (``task_notes`` says which)."""
    if tasks is None:
        tasks = {task: task_items(task) for task in word_tasks()}
    out = {(task, WORD_SETTING): tasks[task].values(layer.words) for task in word_tasks()}
    settings = list(layer.sentences) if sentence_settings is None else sentence_settings
    for setting in settings:
        x = layer.sentences[setting]
        out[("stsb", setting)] = cosine_rows(x[sts.a], x[sts.b], zero_rows="nan")
    return out


def layer_zero_rows(layer: LayerStates) -> dict[str, np.ndarray]:
    """The zero rows of each sample of one layer's states (the samples read):
    ``"cwe"``, ``"words"``, ``"sentences <setting>"`` -> int array."""
    out = {} if layer.cwe is None else {"cwe": find_zero_rows(layer.cwe)}
    if layer.words is not None:
        out["words"] = find_zero_rows(layer.words)
    return out | {f"sentences {st}": find_zero_rows(x) for st, x in layer.sentences.items()}


def task_notes(
    ms: ModelStates,
    key: tuple[str, str],
    zero: Sequence[Mapping[str, np.ndarray]],
    sts: StsItems,
) -> list[str]:
    """One note per layer for the task ``key`` (``(task, setting)`` of :func:`task_values`):
    ``zero`` holds each layer's :func:`layer_zero_rows`; ``""`` where no item of the task
    needs a zero vector."""
    task, setting = key
    if task == "stsb":
        sample = f"sentences {setting}"
        found = [z[sample] for z in zero]
        vectors = ms.zero_vectors(sample, found)
        return [
            vectors.items_note(i, needing_items(f, (sts.a, sts.b)), "pairs", "Spearman's rho")
            for i, f in enumerate(found)
        ]
    return ms.tasks()[task].notes(ms.zero_vectors("words", [z["words"] for z in zero]))


def stacked(per_layer: Mapping[tuple[str, str], Sequence[np.ndarray]]) -> dict:
    """``key -> [n_items, L+1]`` from ``key -> [layer 0's values, ..., layer L's]``."""
    return {key: np.stack(v, axis=1) for key, v in per_layer.items()}
