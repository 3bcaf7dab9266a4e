"""Any number of models side by side: isotropy, rogue dimensions, postprocessing, paired tests.

Chapter 7 (``notebooks/07_beyond.ipynb``) and ``python -m layerwise compare MODEL...``
share these functions. Every table is tidy with a ``model`` column (one row per
model, layer and quantity) and a ``depth`` column (layer / number of blocks) so
models of different depths share an axis.

This module joins the models: each model's share of the four tables
(:func:`model_parts`, cached) and the tables of all of them (:func:`compare_tables`),
every model measured on the same texts, filtered to every model's window
(:mod:`layerwise.measure.multi_texts`). The parts come from
:mod:`layerwise.measure.multi_states` (a model's states, read one layer at a time),
:mod:`layerwise.measure.multi_tables` (isotropy, rogue dimensions,
postprocessing) and :mod:`layerwise.measure.multi_paired` (paired differences), whose
public names are re-exported here. The estimators live in :mod:`layerwise.stats`
(isotropy, postprocess, paired). A model's analysis holds one layer of its states at a
time, and the models are measured one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..models.spec import LoadedModel
from ..store.cached import cached_value, value_key
from ..store.keys import model_identity, texts_digest
from .common import MeasureOptions, require_items
from .multi_paired import PAIRED_COLUMNS, paired_rows, paired_table, paired_values
from .multi_states import LayerStates, ModelStates, gather_states, load_states
from .multi_tables import ROGUE_KS, isotropy_table, postprocessing_table, rogue_table
from .multi_texts import (
    ALIGNMENT_GOLD,
    COMPARED_SENTENCE_SETTINGS,
    WORD_SETTING,
    CompareTexts,
    as_texts,
    compare_texts,
)

__all__ = [
    "ALIGNMENT_GOLD",
    "COMPARED_SENTENCE_SETTINGS",
    "COMPARE_TABLES",
    "CompareTexts",
    "PAIRED_COLUMNS",
    "ROGUE_KS",
    "WORD_SETTING",
    "LayerStates",
    "ModelParts",
    "ModelStates",
    "assemble",
    "compare_tables",
    "compare_texts",
    "gather_states",
    "isotropy_table",
    "load_states",
    "model_parts",
    "paired_rows",
    "paired_table",
    "paired_values",
    "postprocessing_table",
    "rogue_table",
]

#: The tables :func:`compare_tables` returns (and ``compare`` writes), in that order.
COMPARE_TABLES = ("isotropy", "rogue_dimensions", "postprocessing", "paired_differences")


# ------------------------------------------------------------------ all of it
@dataclass
class ModelParts:
    """One model's share of the four tables of :data:`COMPARE_TABLES`: its rows of the
    isotropy, rogue-dimension and postprocessing tables, and its per-item values for the
    paired table (``paired_values``) with their notes (``paired_notes``: method -> task ->
    one note per layer, ``""`` unless a value needs a zero vector). A sweep computes one per
    model, anywhere (a worker of a cluster), and ``assemble`` joins them into the tables of
    the models together."""

    name: str
    isotropy: pd.DataFrame
    rogue_dimensions: pd.DataFrame
    postprocessing: pd.DataFrame
    paired: dict[str, dict[str, np.ndarray]]
    paired_notes: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def _part_params(lm: LoadedModel, texts: CompareTexts, s: MeasureOptions) -> dict:
    # texts.key() is empty when no STS-B pair and no word is filtered out, so the keys of
    # an unfiltered comparison are the ones it always had
    return {
        "model": model_identity(lm),
        "sentences": texts_digest(texts.cwe),
        "params": {"n_cwe": s.n_cwe, "seed": s.seed, "n_resamples": s.n_resamples},
        **texts.key(),
    }


def parts_cached(lm: LoadedModel, texts: CompareTexts | Sequence[str], s: MeasureOptions) -> bool:
    """Whether ``s.cache`` holds the tables :func:`model_parts` keeps for ``lm`` (then it
    reads no states)."""
    if s.cache is None:
        return False
    key = _part_params(lm, as_texts(texts), s)
    tables = ("isotropy", "rogue_dimensions", "postprocessing")
    return all(
        s.cache.path(value_key(f"compare part {name}", __name__, **key), ".csv").exists()
        for name in tables
    )


def model_parts(
    lm: LoadedModel, texts: CompareTexts | Sequence[str], s: MeasureOptions
) -> ModelParts:
    """``lm``'s :class:`ModelParts` over ``texts``: a
    :class:`~layerwise.measure.multi_texts.CompareTexts` (every model of a comparison gets
    the same, :func:`~layerwise.measure.multi_texts.compare_texts`), or the CWE sentence
    set alone (then every STS-B test pair and task word). Each part is kept in ``s.cache``
    (keyed by the model's identity, the texts, the sample sizes and the code of this
    module's import closure): a model whose parts are cached reads no states and no
    weights, so an interrupted sweep resumes where it stopped."""
    texts = as_texts(texts)
    key = _part_params(lm, texts, s)
    held: list[ModelStates] = []

    def states() -> list[ModelStates]:
        if not held:
            held.append(gather_states(lm, texts, s))
        return held

    def table(name: str, build: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        return cached_value(s.cache, f"compare part {name}", build, table=True, **key)

    iso = table("isotropy", lambda: isotropy_table(states(), s))
    rogue = table("rogue_dimensions", lambda: rogue_table(states()))
    post = table("postprocessing", lambda: postprocessing_table(states(), s))

    def values_and_notes() -> dict:
        notes: dict = {}
        values = paired_values(states()[0], notes=notes)
        encoded = {
            method: {t: v.tolist() for t, v in tasks.items()} for method, tasks in values.items()
        }
        return {"values": encoded, "notes": notes}

    encoded = cached_value(s.cache, "compare part paired values", values_and_notes, **key)
    paired = {
        method: {task: np.asarray(v, dtype=np.float64) for task, v in tasks.items()}
        for method, tasks in encoded["values"].items()
    }
    return ModelParts(lm.spec.name, iso, rogue, post, paired, encoded["notes"])


def assemble(
    parts: Sequence[ModelParts], s: MeasureOptions, texts: CompareTexts | None = None
) -> dict[str, pd.DataFrame]:
    """The four tables of :data:`COMPARE_TABLES` from the models' parts, in their order:
    the same rows, in the same order, as the models measured together. ``texts``: the
    texts the parts were measured on (default: every STS-B pair and task word)."""

    def joined(name: str) -> pd.DataFrame:
        return pd.concat([getattr(p, name) for p in parts], ignore_index=True)

    return {
        "isotropy": joined("isotropy"),
        "rogue_dimensions": joined("rogue_dimensions"),
        "postprocessing": joined("postprocessing"),
        "paired_differences": paired_rows(
            [(p.name, p.paired) for p in parts],
            s,
            texts=texts,
            notes=[p.paired_notes for p in parts],
        ),
    }


def compare_tables(
    models: Sequence[LoadedModel],
    s: MeasureOptions,
    log: Callable[[str], None] | None = None,
    parts: Sequence[ModelParts] | None = None,
    texts: CompareTexts | None = None,
) -> dict[str, pd.DataFrame]:
    """The four tidy tables of :data:`COMPARE_TABLES` for N >= 1 models (paired needs N >= 2).

    Every model is measured on the same texts: ``texts``, by default
    :func:`~layerwise.measure.multi_texts.compare_texts` of ``models`` (each set filtered
    to every model's window; the full sets when they fit, as they do for every profile's
    models), computed from token counts before any state is read. Each table is cached
    like the reproduction's, and so is each model's share of them (:func:`model_parts`);
    the models' states are read only when neither is, so a warm run loads none.
    ``parts``: the models' :class:`ModelParts`, already computed (by the workers of a
    sweep) over ``texts``, in the order of ``models``.

    Raises :class:`~layerwise.errors.InputError` for no model, a number of parts other
    than the number of models, or too few texts fitting every model's window
    (:func:`~layerwise.measure.multi_texts.compare_texts`).
    """
    models = require_items(models, "compare_tables: models", "loaded model")
    if parts is not None and len(parts) != len(models):
        raise InputError(
            f"compare_tables: {len(parts)} parts for {len(models)} models; give one "
            "ModelParts per model, in the order of models"
        )
    texts = compare_texts(models, s) if texts is None else texts
    held: list[dict[str, pd.DataFrame]] = []

    def tables() -> dict[str, pd.DataFrame]:
        if not held:
            got = parts
            if got is None:
                got = [model_parts(lm, texts, s) for lm in models]
            held.append(assemble(got, s, texts))
        return held[0]

    out = {}
    ids = [model_identity(lm) for lm in models]
    params = {"n_cwe": s.n_cwe, "seed": s.seed, "n_resamples": s.n_resamples}
    for name in COMPARE_TABLES:
        out[name] = cached_value(
            s.cache,
            f"compare {name}",
            lambda name=name: tables()[name],
            table=True,
            models=ids,
            params=params,
            **texts.key(),
        )
        if log:
            log(f"{name}: {len(out[name])} rows")
    return out
