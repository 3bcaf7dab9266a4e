"""A sweep's models fanned out over a Dask cluster: ``compare --workers N`` (a local
cluster of N processes) or ``compare --scheduler ADDRESS`` (an existing one, e.g. a
``dask-jobqueue`` SLURMCluster/PBSCluster's).

:class:`DaskRunner` is a runner of :func:`~layerwise.pipeline.compare.run_compare`: one
task per model computes its :class:`~layerwise.measure.multi.ModelParts` and writes them
into the content-addressed cache, which the workers must share (a common file system);
the coordinator assembles the tables from the parts in the order the models were named,
the same rows as a run in one process. The tables of a cluster equal those of one process
to the last bit when each process runs its numerical libraries with as many threads (a
sum split over threads is added in another order): Dask gives its workers one
BLAS/OpenMP thread (``distributed.nanny.pre-spawn-environ``), so a run in one process
matches them with ``OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1`` and
``torch.set_num_threads(1)``.

Interrupted (Ctrl-C, SIGTERM), a sweep on a local cluster kills its workers at once (they
never see either signal themselves, even one sent to the whole process group) and closes
the cluster; on an existing cluster the client lets its tasks go. Either way the models
finished are in the cache, and the same command resumes
(:mod:`layerwise.pipeline.interrupts`).

Why Dask and not Ray: a sweep is a handful of independent, long (minutes to hours) tasks
that share files, not memory; Dask's ``distributed`` runs them with a plain ``pip``
install, starts a local cluster in a test in seconds, and reaches Slurm and PBS through
``dask-jobqueue`` without a cluster-side service, where Ray needs its own head node and
object store. Needs the ``cluster`` extra (``pip install 'layerwise[cluster]'``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from ..errors import InputError
from ..measure.common import MeasureOptions
from ..measure.multi import CompareTexts, ModelParts, compare_texts
from ..measure.multi_texts import count_tokens
from ..models.spec import LoadedModel
from ..pipeline.compare import (
    load_lazily,
    models_bar,
    planned_parts,
    refuse_same_weights,
    released,
)
from ..pipeline.config import RunConfig
from ..pipeline.interrupts import (
    Interrupted,
    children_deaf,
    held_signals,
    quiet_libraries,
    raise_held,
)

#: Seconds to wait for a scheduler named by ``--scheduler`` before giving up.
CONNECT_TIMEOUT_S = 20
#: Seconds a stopping run (interrupted, or failed) waits for each killed worker process
#: to be joined.
STOP_TIMEOUT_S = 2
#: Seconds a stopping run waits for the scheduler of its local cluster to close, once the
#: workers are stopped.
CLOSE_TIMEOUT_S = 10


class DaskRunner:
    """Runs a sweep's models on a Dask cluster: a new local one of ``workers`` processes
    (one thread each), or the one whose scheduler is at ``scheduler``.

    ``threads``: torch threads per worker (default: this machine's cores / ``workers`` for
    a local cluster; unchanged on a scheduler's). Raises
    :class:`~layerwise.errors.InputError` at construction, before any model loads, for both
    or neither of ``workers``/``scheduler`` or a bad ``workers``; when called, for Dask
    missing or a scheduler that does not answer within ``CONNECT_TIMEOUT_S``.
    """

    def __init__(
        self,
        workers: int | None = None,
        scheduler: str | None = None,
        threads: int | None = None,
    ) -> None:
        if (workers is None) == (scheduler is None):
            raise InputError(
                "give --workers (a local cluster) or --scheduler (an existing one), not both"
                if workers is not None
                else "a Dask runner needs --workers N or --scheduler ADDRESS"
            )
        if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
            raise InputError(f"--workers must be a positive integer, got {workers!r}")
        if threads is None and workers:
            threads = max(1, (os.cpu_count() or 1) // int(workers))
        self.workers, self.scheduler, self.threads = workers, scheduler, threads
        self.params: dict[str, Any] = {"workers": workers, "scheduler": scheduler}

    def __call__(
        self,
        sources: list[str],
        cfg: RunConfig,
        s: MeasureOptions,
        log: Callable[[str], None],
        progress: bool | None,
    ) -> tuple[list[LoadedModel], list[ModelParts], CompareTexts]:
        """One task per model on the cluster: the specs and token counts first (so the
        coordinator computes the shared texts, filtered to every model's window, without
        weights; too few texts stop the sweep here), then each model's parts over those
        texts; the bar counts the models whose parts came back."""
        if self.workers is not None:
            log(f"starting a local Dask cluster of {self.workers} workers")
        parts: list[ModelParts | None] = [None] * len(sources)
        try:
            client = connect(self.workers, self.scheduler)
            stopping = True  # until the run returns: an error or an interruption stops it
            try:
                models, texts = self._run(client, sources, cfg, s, log, progress, parts)
                stopping = False
            finally:  # the client lets its tasks go: the scheduler cancels them
                close(client, quickly=stopping)
        except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: say which finished
            done = sum(part is not None for part in parts)
            raise Interrupted.after(
                err, f"{done} of {len(sources)} models finished and cached"
            ) from err
        return models, parts, texts  # type: ignore[return-value]

    def _run(
        self, client, sources, cfg, s, log, progress, parts
    ) -> tuple[list[LoadedModel], CompareTexts]:
        """The models (weights released) and the shared texts; each model's parts are put
        into ``parts`` as they come."""
        from distributed import as_completed

        threads = self.threads
        specs = client.gather(
            [client.submit(prepare_model, src, cfg, threads, pure=False) for src in sources]
        )
        log(f"prepared {len(specs)} models on {len(client.scheduler_info()['workers'])} workers")
        # the specs are in the shared cache now: no weights load here unless this machine's
        # device type differs from the workers' (then each is probed once and released)
        models = [released(load_lazily(src, cfg, log), src, cfg) for src in sources]
        refuse_same_weights(sources, models)
        texts = compare_texts(models, s, log)
        futures = {
            client.submit(measure_model, src, cfg, texts, threads, pure=False): i
            for i, src in enumerate(sources)
        }
        with models_bar(len(sources), progress) as bar:
            for future in as_completed(futures):
                i = futures[future]
                parts[i] = future.result()
                bar.set_postfix_str(models[i].spec.name)
                bar.update()
        return models, texts


# ------------------------------------------------------------------ the tasks of a cluster
def prepare_model(source: str, cfg: RunConfig, threads: int | None = None) -> dict[str, Any]:
    """A worker's first task: load ``source`` (its spec, probed once, goes to the shared
    cache) and count the tokens of the compared texts in its tokenizer (cached,
    :func:`~layerwise.measure.multi_texts.count_tokens`), so the coordinator reads both
    without loading weights. Returns the spec as a dict."""
    _threads(threads)
    lm = load_lazily(source, cfg, None)
    count_tokens(lm, cfg.options())
    return lm.spec.as_dict()


def measure_model(
    source: str, cfg: RunConfig, texts: CompareTexts, threads: int | None = None
) -> ModelParts:
    """A worker's second task: ``source``'s :class:`~layerwise.measure.multi.ModelParts`
    over the sweep's texts (filtered to every model's window), written to (or read from)
    the shared cache."""
    _threads(threads)
    return planned_parts(load_lazily(source, cfg, None), texts, cfg.options())


def _threads(threads: int | None) -> None:
    """A worker's setup before each task: ``threads`` torch threads; and tqdm's lock a
    thread lock (its default takes a multiprocessing semaphore, which a worker killed when
    a run stops would leave for the resource tracker to report as leaked)."""
    import threading

    from tqdm.auto import tqdm

    tqdm.set_lock(threading.RLock())
    if threads:
        import torch

        torch.set_num_threads(threads)


def connect(workers: int | None, scheduler: str | None):
    """A Dask client: of a new local cluster of ``workers`` processes (one thread each), or
    of the scheduler at ``scheduler``. InputError naming the remedy when Dask is missing or
    the scheduler does not answer within ``CONNECT_TIMEOUT_S``."""
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
    # a cluster interrupted while it starts cannot be closed (the object is never
    # returned): a signal waits until it is up (a second one does not), then it is
    # closed; its workers never see Ctrl-C or SIGTERM (this process stops them)
    with held_signals() as held:
        try:
            with children_deaf():
                cluster = LocalCluster(
                    n_workers=int(workers),
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    env={"TQDM_DISABLE": "1"},  # one bar, the coordinator's, counts models
                )
        except Exception as err:
            if held:
                raise Interrupted(held[0]) from err
            raise
        try:
            client = Client(cluster)
        except BaseException:
            close_quickly(cluster)
            raise
    if held:
        close(client, quickly=True)
        raise_held(held)
    return client


def close(client, quickly: bool = False) -> None:
    """Close ``client`` and the local cluster it started, if any. ``quickly`` (a run that
    stops: interrupted, or failed): the local workers are killed first
    (:func:`stop_workers`), Dask's shutdown messages are silenced, and a signal while
    closing is held (a second one is not)."""
    cluster = getattr(client, "cluster", None)
    if not quickly:
        client.close()
        if cluster is not None:
            cluster.close()
        return
    with quiet_libraries(), held_signals():
        try:
            if cluster is not None:  # before the client lets its tasks go (cancelled)
                stop_workers(cluster)
        finally:
            try:
                client.close(timeout=STOP_TIMEOUT_S)
            finally:
                if cluster is not None:
                    cluster.close(timeout=CLOSE_TIMEOUT_S)


def close_quickly(cluster) -> None:
    """Close a local cluster whose workers may be busy in a task (:func:`stop_workers`)."""
    with quiet_libraries():
        try:
            stop_workers(cluster)
        finally:
            cluster.close(timeout=CLOSE_TIMEOUT_S)


def stop_workers(cluster) -> None:
    """Kill the worker processes of a local cluster at once, their nannies told not to
    restart them: a worker asked to stop would cancel its task with a warning of its own,
    or, busy in it, be killed after seconds anyway. A task killed halfway leaves no cache
    entry, only a temporary that the next run removes (entries are written atomically)."""
    cluster.sync(_kill_workers, list(cluster.workers.values()), callback_timeout=CLOSE_TIMEOUT_S)


async def _kill_workers(nannies) -> None:
    import asyncio
    import signal

    for nanny in nannies:
        nanny.close_gracefully(reason="layerwise-stopping")  # no restart when it dies
        if nanny.pid:
            with suppress(ProcessLookupError):
                os.kill(nanny.pid, signal.SIGKILL)
    await asyncio.gather(*(nanny.close(timeout=STOP_TIMEOUT_S) for nanny in nannies))
