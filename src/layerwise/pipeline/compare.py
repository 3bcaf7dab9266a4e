"""``python -m layerwise compare``: chapter 7's tables for any number of models (a sweep),
and the profile's extra models for the chapter.

A sweep names its models by source, each optionally at a hub revision
(``EleutherAI/pythia-160m@step3000``, :func:`~layerwise.models.hub.split_revision`).
Each model's share of the tables (:class:`~layerwise.measure.multi.ModelParts`) is
computed on its own and written into the content-addressed cache; the tables are
assembled from the parts in the order the models were named. The cache makes a sweep
resumable: after an interruption a second run reads the parts of the models that
finished (no states, no weights) and computes the rest. One progress bar counts the
models.

Every model is measured on the same texts, each set (the CWE sentences, the STS-B test
pairs, the task words) filtered to every model's window before any state is extracted
(:func:`~layerwise.measure.multi_texts.compare_texts`): the log and ``provenance.json``
(``parameters.window``) say how many items each set kept and how many each model's
window dropped, and a set left with too few items stops the run, naming the set, the
models and the remedy. Models whose windows hold every text (every profile's) read the
full sets, so their tables are those of an unfiltered comparison.

Who computes the parts is a *runner*: :func:`sequential` (here, one model after another)
by default; :class:`layerwise.platform.sweep.DaskRunner` fans them out over a Dask cluster
(``compare --workers N`` / ``--scheduler ADDRESS``). This module never imports the
platform: the command line hands the runner in.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from tqdm.auto import tqdm

from ..errors import InputError
from ..locks import folder_lock
from ..measure.common import MeasureOptions
from ..measure.multi import (
    CompareTexts,
    ModelParts,
    compare_tables,
    compare_texts,
    model_parts,
    parts_cached,
)
from ..measure.multi_states import gather_states
from ..models.hub import split_revision
from ..models.loading import load_model
from ..models.spec import LoadedModel
from ..report.provenance import provenance, write_table
from .config import RunConfig, ensure_writable_folder
from .interrupts import Interrupted
from .plan import run_plans
from .profiles import available_extras


class Runner(Protocol):
    """Computes every model's :class:`~layerwise.measure.multi.ModelParts` for a sweep.

    Called with the sources, the run's configuration and its options (``cfg.options()``,
    whose cache counts what was reused), a log and the progress choice; returns the
    models (weights released), their parts in the sources' order, and the texts every
    part was measured on: :func:`~layerwise.measure.multi_texts.compare_texts` of all the
    models, computed from their specs and token counts before any part (so a set left
    with too few items stops the sweep before any extraction).
    ``params`` goes into ``provenance.json`` (how the parts were computed)."""

    params: dict[str, Any]

    def __call__(
        self,
        sources: list[str],
        cfg: RunConfig,
        s: MeasureOptions,
        log: Callable[[str], None],
        progress: bool | None,
    ) -> tuple[list[LoadedModel], list[ModelParts], CompareTexts]: ...


def run_compare(
    sources: Sequence[str],
    cfg: RunConfig,
    out_dir,
    log: Callable[[str], None] = print,
    *,
    runner: Runner | None = None,
    progress: bool | None = None,
) -> dict[str, pd.DataFrame]:
    """``python -m layerwise compare``: measure ``sources``, write the tables to ``out_dir``.

    ``cfg`` is a :class:`~layerwise.pipeline.config.RunConfig` (scale, seed, device, dtype,
    placement, cache). ``runner`` computes each model's parts: :func:`sequential` (the
    default: one model after another, here) or
    :class:`~layerwise.platform.sweep.DaskRunner` (a Dask cluster, in the fenced platform).
    ``progress``: one bar over the models (None: when ``TQDM_DISABLE`` is unset). Returns
    the four tables by name (:data:`~layerwise.measure.multi.COMPARE_TABLES`), the same rows
    whoever computed the parts.

    Every model reads the same texts, each set filtered to every model's window (the
    log says what each set kept, ``provenance.json`` records it under
    ``parameters.window``).

    Raises :class:`~layerwise.errors.InputError` before any model loads for no source, a
    source named twice or an unreadable ``HUB_ID@REVISION``;
    :class:`~layerwise.errors.BusyError` when another run holds ``out_dir``
    (``folder_lock``, held until the tables are written); and before
    any extraction for two sources of the same weights or a text set left with too few
    items by the models' windows (naming the set, the models, the counts and the remedy).
    Interrupted (Ctrl-C, SIGTERM), it raises
    ``Interrupted`` saying how many models finished;
    their parts are cached, so the same call resumes.
    """
    sources = list(sources)
    if not sources:
        raise InputError("compare needs at least one model source")
    if len(set(sources)) != len(sources):
        raise InputError(f"a model is named twice in {sources}")
    for src in sources:
        split_revision(src)  # an unreadable NAME@REV fails here, before any work
    runner = sequential if runner is None else runner
    start = time.perf_counter()
    cfg.validate(outputs=False, roles=False)  # the models are named, not roles
    ensure_writable_folder(Path(out_dir), "output folder (--out)")
    with folder_lock(out_dir, "output folder (--out)", log):
        return _compare(sources, cfg, out_dir, log, runner, progress, start)


def _compare(
    sources: list[str],
    cfg: RunConfig,
    out_dir,
    log: Callable[[str], None],
    runner: Runner,
    progress: bool | None,
    start: float,
) -> dict[str, pd.DataFrame]:
    """:func:`run_compare`'s work, under the output folder's lock."""
    s = cfg.options()
    try:
        models, parts, texts = runner(sources, cfg, s, log, progress)
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM; a runner may say more
        raise Interrupted.after(
            err, f"stopped while measuring {len(sources)} models; each model finished is cached"
        ) from err
    refuse_same_weights(sources, models)
    params = cfg.params() | {
        "profile": None,
        "concrete_profile": None,
        "sources": sources,
        **runner.params,
        "window": texts.report(),
    }
    try:
        prov = provenance({lm.spec.source: lm for lm in models}, params)
        tables = compare_tables(models, s, log, parts=parts, texts=texts)
        for name, df in tables.items():
            write_table(df, out_dir, name, prov)
    except KeyboardInterrupt as err:
        raise Interrupted.after(
            err, f"all {len(sources)} models finished and cached, the tables not all written"
        ) from err
    log(
        f"wrote {len(tables)} tables for {len(models)} models to {out_dir} in "
        f"{time.perf_counter() - start:.1f}s; cache: {s.cache.report()}"
    )
    return tables


def load_lazily(source: str, cfg: RunConfig, log: Callable[[str], None] | None) -> LoadedModel:
    """``source`` loaded lazily with the run's options: a spec in the cache means no weights."""
    return load_model(source, log=log, lazy=True, **cfg.load_options())


def released(lm: LoadedModel, source: str, cfg: RunConfig) -> LoadedModel:
    """``lm`` without its weights (read again from the cached spec, lazily): a sweep holds
    one model's weights at a time."""
    return load_lazily(source, cfg, None) if lm.weights_loaded else lm


def planned_parts(lm: LoadedModel, texts: CompareTexts, s: MeasureOptions) -> ModelParts:
    """:func:`~layerwise.measure.multi.model_parts`, its extractions first run as one plan
    (:func:`~layerwise.pipeline.plan.run_plans`) unless its tables are cached: the
    sequential runner and every worker of a parallel sweep measure a model alike."""
    if not parts_cached(lm, texts, s):
        run_plans([lm], lambda m: gather_states(m, texts, s), s)
    return model_parts(lm, texts, s)


def models_bar(total: int, progress: bool | None) -> tqdm:
    """The sweep's one progress bar, counting models (off when ``TQDM_DISABLE`` is set)."""
    show = progress if progress is not None else True
    show = show and os.environ.get("TQDM_DISABLE", "") in ("", "0", "false", "False")
    return tqdm(total=total, desc="models", unit="model", disable=not show)


def sequential(
    sources: list[str],
    cfg: RunConfig,
    s: MeasureOptions,
    log: Callable[[str], None],
    progress: bool | None,
) -> tuple[list[LoadedModel], list[ModelParts], CompareTexts]:
    """The default runner: every model here, one after another (one model's weights in
    memory at a time), on the texts that fit every model's window."""
    parts: list[ModelParts] = []
    try:
        models = [released(load_lazily(src, cfg, log), src, cfg) for src in sources]
        refuse_same_weights(sources, models)  # before any extraction
        texts = compare_texts(models, s, log)  # before any extraction too
        with models_bar(len(models), progress) as bar:
            for i, (src, lm) in enumerate(zip(sources, models, strict=True)):
                bar.set_postfix_str(lm.spec.name)
                parts.append(planned_parts(lm, texts, s))
                models[i] = released(lm, src, cfg)
                bar.update()
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: say which finished
        raise Interrupted.after(
            err, f"{len(parts)} of {len(sources)} models finished and cached"
        ) from err
    return models, parts, texts


sequential.params = {"workers": None, "scheduler": None}  # type: ignore[attr-defined]


def refuse_same_weights(sources: Sequence[str], models: Sequence[LoadedModel]) -> None:
    """InputError naming two sources that resolve to the same weights (the same fingerprint:
    a folder and a symlink to it or a copy of it, a hub id and its cached snapshot, two
    revisions naming one commit), before any extraction: a model compared with itself
    would pass for two."""
    seen: dict[str, str] = {}
    for src, lm in zip(sources, models, strict=True):
        first = seen.setdefault(lm.spec.fingerprint, src)
        if first != src:
            raise InputError(
                f"compare: {first!r} and {src!r} resolve to the same weights (fingerprint "
                f"{lm.spec.fingerprint[:24]}...), so the model would be compared with itself. "
                "Remedy: name each model once."
            )


def load_extras(
    cfg: RunConfig, log: Callable[[str], None] | None = print
) -> tuple[dict, list[str]]:
    """The profile's chapter 7 extras that can be loaded (name -> model) and skip notes."""
    use, notes = available_extras(cfg.concrete_profile)
    loaded = {}
    for src in use:
        lm = load_lazily(src, cfg, log)
        loaded[lm.spec.name] = lm
    return loaded, notes
