"""``python -m layerwise compare``: chapter 7's tables for any number of models, and the
profile's extra models for the chapter."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ..errors import InputError
from ..measure.multi import compare_tables
from ..models.loading import load_model
from ..models.spec import LoadedModel
from ..report.provenance import provenance, write_table
from .config import RunConfig, ensure_writable_folder
from .profiles import available_extras


def run_compare(
    sources: Sequence[str], cfg: RunConfig, out_dir, log: Callable[[str], None] = print
) -> dict[str, pd.DataFrame]:
    """``python -m layerwise compare``: load ``sources``, write the tables to ``out_dir``.

    ``cfg`` is a :class:`~layerwise.pipeline.config.RunConfig` (scale, seed, device, cache).
    """
    if not sources:
        raise InputError("compare needs at least one model source")
    if len(set(sources)) != len(sources):
        raise InputError(f"a model is named twice in {list(sources)}")
    start = time.perf_counter()
    cfg.validate(outputs=False)
    ensure_writable_folder(Path(out_dir), "output folder (--out)")
    root = cfg.cache().root
    models = [
        load_model(src, device=cfg.device, dtype=cfg.dtype, log=log, cache_dir=root, lazy=True)
        for src in sources
    ]
    refuse_same_weights(sources, models)
    s = cfg.options()
    params = cfg.params() | {"profile": None, "concrete_profile": None, "sources": list(sources)}
    prov = provenance({lm.spec.source: lm for lm in models}, params)
    tables = compare_tables(models, s, log)
    for name, df in tables.items():
        write_table(df, out_dir, name, prov)
    log(
        f"wrote {len(tables)} tables for {len(models)} models to {out_dir} in "
        f"{time.perf_counter() - start:.1f}s; cache: {s.cache.report()}"
    )
    return tables


def refuse_same_weights(sources: Sequence[str], models: Sequence[LoadedModel]) -> None:
    """InputError naming two sources that resolve to the same weights (the same fingerprint:
    a folder and a symlink to it or a copy of it, a hub id and its cached snapshot), before
    any extraction: a model compared with itself would pass for two."""
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
    root = cfg.cache().root
    for src in use:
        lm = load_model(src, device=cfg.device, dtype=cfg.dtype, log=log, cache_dir=root, lazy=True)
        loaded[lm.spec.name] = lm
    return loaded, notes
