"""``python -m layerwise compare``: chapter 7's tables for any number of models (a sweep),
in one process or fanned out over a Dask cluster, and the profile's extra models for the
chapter.

A sweep names its models by source, each optionally at a hub revision
(``EleutherAI/pythia-160m@step3000``, :func:`~layerwise.models.hub.split_revision`).
Each model's share of the tables (:class:`~layerwise.measure.multi.ModelParts`) is
computed on its own, one model at a time (``workers=None``) or as one task per model on a
Dask cluster (``workers=N``: a local cluster of N processes; ``scheduler=ADDRESS``: an
existing one, e.g. a ``dask-jobqueue`` SLURMCluster/PBSCluster's); every task writes into
the content-addressed cache, which the workers must share (a common file system), and the
tables are assembled from the parts in the order the models were named, the same rows as
a run in one process. The cache makes a sweep resumable: after an interruption a second
run reads the parts of the models that finished (no states, no weights) and computes the
rest. One progress bar counts the models.

Why Dask and not Ray: a sweep is a handful of independent, long (minutes to hours) tasks
that share files, not memory; Dask's ``distributed`` runs them with a plain ``pip``
install, starts a local cluster in a test in seconds, and reaches Slurm and PBS through
``dask-jobqueue`` without a cluster-side service, where Ray needs its own head node and
object store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from tqdm.auto import tqdm

from ..errors import InputError
from ..measure.cwe import cwe_sentences
from ..measure.multi import ModelParts, compare_tables, model_parts
from ..models.hub import split_revision
from ..models.loading import load_model
from ..models.spec import LoadedModel
from ..report.provenance import provenance, write_table
from .config import RunConfig, ensure_writable_folder
from .profiles import available_extras

#: Seconds to wait for a scheduler named by ``--scheduler`` before giving up.
CONNECT_TIMEOUT_S = 20


def run_compare(
    sources: Sequence[str],
    cfg: RunConfig,
    out_dir,
    log: Callable[[str], None] = print,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    threads: int | None = None,
) -> dict[str, pd.DataFrame]:
    """``python -m layerwise compare``: measure ``sources``, write the tables to ``out_dir``.

    ``cfg`` is a :class:`~layerwise.pipeline.config.RunConfig` (scale, seed, device, dtype,
    placement, cache). ``workers``: run the models on a local Dask cluster of that many
    processes; ``scheduler``: on the Dask cluster at that address (``tcp://host:8786``);
    neither: one after another here. ``progress``: one bar over the models (None: when
    ``TQDM_DISABLE`` is unset). ``threads``: torch threads per worker (default: this
    machine's cores / ``workers`` for a local cluster; unchanged on a scheduler's). Returns
    the four tables by name (:data:`~layerwise.measure.multi.COMPARE_TABLES`).

    The tables of a cluster equal those of one process to the last bit when each process
    runs its numerical libraries with as many threads (a sum split over threads is added
    in another order): Dask gives its workers one BLAS/OpenMP thread
    (``distributed.nanny.pre-spawn-environ``), so a run in one process matches them with
    ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1`` and ``threads=1``.

    Raises :class:`~layerwise.errors.InputError` before any model loads for no source, a
    source named twice, an unreadable ``HUB_ID@REVISION``, both or a bad ``workers``/
    ``scheduler``, a scheduler that does not answer, or Dask missing.
    """
    sources = list(sources)
    if not sources:
        raise InputError("compare needs at least one model source")
    if len(set(sources)) != len(sources):
        raise InputError(f"a model is named twice in {sources}")
    for src in sources:
        split_revision(src)  # an unreadable NAME@REV fails here, before any work
    if workers is not None and scheduler is not None:
        raise InputError(
            "give --workers (a local cluster) or --scheduler (an existing one), not both"
        )
    if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
        raise InputError(f"--workers must be a positive integer, got {workers!r}")
    start = time.perf_counter()
    cfg.validate(outputs=False)
    ensure_writable_folder(Path(out_dir), "output folder (--out)")
    s = cfg.options()
    client = _connect(workers, scheduler) if (workers or scheduler) else None
    try:
        if client is None:
            models, parts = _sequential(sources, cfg, s, log, progress)
        else:
            if threads is None and workers:
                threads = max(1, (os.cpu_count() or 1) // workers)
            models, parts = _distributed(client, sources, cfg, threads, log, progress)
    finally:
        if client is not None:
            _close(client)
    refuse_same_weights(sources, models)
    params = cfg.params() | {
        "profile": None,
        "concrete_profile": None,
        "sources": sources,
        "workers": workers,
        "scheduler": scheduler,
    }
    prov = provenance({lm.spec.source: lm for lm in models}, params)
    tables = compare_tables(models, s, log, parts=parts)
    for name, df in tables.items():
        write_table(df, out_dir, name, prov)
    log(
        f"wrote {len(tables)} tables for {len(models)} models to {out_dir} in "
        f"{time.perf_counter() - start:.1f}s; cache: {s.cache.report()}"
    )
    return tables


def _load(source: str, cfg: RunConfig, log: Callable[[str], None] | None) -> LoadedModel:
    """``source`` loaded lazily with the run's options: a spec in the cache means no weights."""
    return load_model(source, log=log, lazy=True, **cfg.load_options())


def _released(lm: LoadedModel, source: str, cfg: RunConfig) -> LoadedModel:
    """``lm`` without its weights (read again from the cached spec, lazily): a sweep holds
    one model's weights at a time."""
    return _load(source, cfg, None) if lm.weights_loaded else lm


def _bar(total: int, progress: bool | None) -> tqdm:
    show = progress if progress is not None else True
    show = show and os.environ.get("TQDM_DISABLE", "") in ("", "0", "false", "False")
    return tqdm(total=total, desc="models", unit="model", disable=not show)


def _sequential(
    sources: list[str],
    cfg: RunConfig,
    s,
    log: Callable[[str], None],
    progress: bool | None,
) -> tuple[list[LoadedModel], list[ModelParts]]:
    """Every model here, one after another (one model's weights in memory at a time)."""
    models = [_released(_load(src, cfg, log), src, cfg) for src in sources]
    refuse_same_weights(sources, models)  # before any extraction
    sentences = cwe_sentences(models, s)
    parts = []
    with _bar(len(models), progress) as bar:
        for i, (src, lm) in enumerate(zip(sources, models, strict=True)):
            bar.set_postfix_str(lm.spec.name)
            parts.append(model_parts(lm, sentences, s))
            models[i] = _released(lm, src, cfg)
            bar.update()
    return models, parts


# ------------------------------------------------------------------ the tasks of a cluster
def prepare_model(source: str, cfg: RunConfig, threads: int | None = None) -> dict[str, Any]:
    """A worker's first task: load ``source`` (its spec, probed once, goes to the shared
    cache) and count the tokens of the CWE sentences in its tokenizer (cached), so the
    coordinator reads both without loading weights. Returns the spec as a dict."""
    _threads(threads)
    lm = _load(source, cfg, None)
    cwe_sentences([lm], cfg.options())
    return lm.spec.as_dict()


def measure_model(
    source: str, cfg: RunConfig, sentences: list[str], threads: int | None = None
) -> ModelParts:
    """A worker's second task: ``source``'s :class:`~layerwise.measure.multi.ModelParts`
    over the sweep's CWE sentence set, written to (or read from) the shared cache."""
    _threads(threads)
    return model_parts(_load(source, cfg, None), sentences, cfg.options())


def _threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)


def _distributed(
    client,
    sources: list[str],
    cfg: RunConfig,
    threads: int | None,
    log: Callable[[str], None],
    progress: bool | None,
) -> tuple[list[LoadedModel], list[ModelParts]]:
    """One task per model on the cluster of ``client``: the specs and token counts first
    (so the coordinator computes the shared CWE sentence set without weights), then each
    model's parts; the bar counts the models whose parts came back."""
    from distributed import as_completed

    specs = client.gather(
        [client.submit(prepare_model, src, cfg, threads, pure=False) for src in sources]
    )
    log(f"prepared {len(specs)} models on {len(client.scheduler_info()['workers'])} workers")
    # the specs are in the shared cache now: no weights load here unless this machine's
    # device type differs from the workers' (then each is probed once and released)
    models = [_released(_load(src, cfg, log), src, cfg) for src in sources]
    refuse_same_weights(sources, models)
    s = cfg.options()
    sentences = cwe_sentences(models, s)
    futures = {
        client.submit(measure_model, src, cfg, sentences, threads, pure=False): i
        for i, src in enumerate(sources)
    }
    parts: list[ModelParts | None] = [None] * len(sources)
    with _bar(len(sources), progress) as bar:
        for future in as_completed(futures):
            i = futures[future]
            parts[i] = future.result()
            bar.set_postfix_str(models[i].spec.name)
            bar.update()
    return models, parts  # type: ignore[return-value]


def _connect(workers: int | None, scheduler: str | None):
    """A Dask client: of a new local cluster of ``workers`` processes (one thread each), or
    of the scheduler at ``scheduler``. InputError naming the remedy when Dask is missing or
    the scheduler does not answer within :data:`CONNECT_TIMEOUT_S`."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as err:
        raise InputError(
            "--workers and --scheduler need Dask. Remedy: pip install 'layerwise[cluster]' "
            "(dask and distributed), or drop the option to run the models one after another"
        ) from err
    if scheduler is not None:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as err:
            raise InputError(
                f"no Dask scheduler answers at {scheduler!r} ({err}). Remedy: start one "
                "(`dask scheduler`, or a dask-jobqueue cluster) and give its address, e.g. "
                "tcp://host:8786, or use --workers N for a local cluster"
            ) from err
    cluster = LocalCluster(
        n_workers=int(workers),
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
    )
    return Client(cluster)


def _close(client) -> None:
    cluster = getattr(client, "cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()


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
        lm = _load(src, cfg, log)
        loaded[lm.spec.name] = lm
    return loaded, notes
