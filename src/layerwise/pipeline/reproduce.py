"""``python -m layerwise reproduce``: every table of the registry for one profile, written
with its provenance."""

from __future__ import annotations

import time
from collections.abc import Callable

import pandas as pd

from ..locks import folder_lock
from ..measure.cwe import cwe_sentences
from ..report.provenance import provenance, write_table
from .config import RunConfig, load_profile
from .interrupts import Interrupted
from .plan import reproduction_states, run_plans
from .tables import TABLES, compute_table, table_key


def reproduce(cfg: RunConfig, log: Callable[[str], None] = print) -> dict[str, pd.DataFrame]:
    """Compute every table of :data:`~layerwise.pipeline.tables.TABLES` and write each to
    ``cfg.out_dir/<name>.csv`` with ``provenance.json``; returns name -> table.

    Checks the configuration and the output folder first (errors name the remedy), then
    holds the output folder's lock (``folder_lock``: a second run into
    the same folder fails at once with a :class:`~layerwise.errors.BusyError` naming this
    one); loads weights only for extractions the cache does not hold. Interrupted (Ctrl-C,
    SIGTERM), it raises ``Interrupted`` saying how many
    tables were written; the cache keeps every extraction finished, so the same call
    resumes.
    """
    cfg.validate()
    with folder_lock(cfg.out_dir, "results folder (--out)", log):
        return _reproduce(cfg, log)


def _reproduce(cfg: RunConfig, log: Callable[[str], None]) -> dict[str, pd.DataFrame]:
    """:func:`reproduce`'s work, under the output folder's lock."""
    tables: dict[str, pd.DataFrame] = {}
    stage = "loading the models"
    try:
        models = load_profile(cfg, log)
        s = cfg.options()
        prov = provenance(models, cfg.params())
        if s.cache is not None and any(
            entry.cached and not s.cache.path(table_key(name, models, s), ".csv").exists()
            for name, entry in TABLES.items()
        ):  # a table to compute: every extraction of the run as one plan per model first
            stage = "running the extraction plan"
            start = time.perf_counter()
            sentences = cwe_sentences(list(models.values()), s)
            run_plans(models, lambda lm: reproduction_states(lm, sentences, s), s, log)
            log(f"extraction plan: {time.perf_counter() - start:.1f}s")
        for name in TABLES:
            stage = f"computing {name}"
            start = time.perf_counter()
            tables[name] = compute_table(name, models, s, tables)
            write_table(tables[name], cfg.out_dir, name, prov)
            log(f"{name}: {time.perf_counter() - start:.1f}s")
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: say what finished
        raise Interrupted.after(
            err,
            f"stopped while {stage}; {len(tables)} of {len(TABLES)} tables written to "
            f"{cfg.out_dir}, every extraction finished is cached",
        ) from err
    log(f"wrote {len(tables)} tables to {cfg.out_dir}; cache: {s.cache.report()}")
    for note in s.cache.rejected:
        log(f"rejected cache entry: {note}")
    return tables
