"""A run of the whole reproduction for one profile: models, parameters, tables.

The notebooks and ``python -m layerwise reproduce`` share these functions, so
the book and the command line compute the same numbers from the same cache.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from . import experiments, results
from .cache import Cache
from .models import LoadedModel, load_model, profile_name, resolve_profile

#: Sample sizes per scale. ``full`` is the paper's; ``reduced`` is for CI and quick looks.
SCALES: dict[str, dict[str, int]] = {
    "full": {"n_cwe": 10_000, "n_resamples": 1000},
    "reduced": {"n_cwe": 1_000, "n_resamples": 200},
}
ROLES = ("contrastive", "causal")
TABLES = ("cwe_geometry", "word_tasks", "sts", "sentence_self_similarity")


@dataclass
class RunConfig:
    """Everything a notebook's ``parameters`` cell sets."""

    profile: str = "auto"
    scale: str = "full"
    seed: int = 0
    device: str = "auto"
    dtype: str = "float32"
    batch_size: int = 64
    results_dir: str = "results"
    cache_dir: str | None = None
    n_cwe: int | None = None
    n_resamples: int | None = None

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; choose one of {sorted(SCALES)}")
        defaults = SCALES[self.scale]
        self.n_cwe = self.n_cwe or defaults["n_cwe"]
        self.n_resamples = self.n_resamples or defaults["n_resamples"]

    @property
    def concrete_profile(self) -> str:
        return profile_name(self.profile)

    @property
    def out_dir(self) -> Path:
        return Path(self.results_dir) / self.concrete_profile

    def settings(self) -> experiments.Settings:
        cache = Cache(self.cache_dir) if self.cache_dir else Cache()
        return experiments.Settings(
            n_cwe=self.n_cwe,
            seed=self.seed,
            batch_size=self.batch_size,
            n_resamples=self.n_resamples,
            cache=cache,
        )

    def params(self) -> dict[str, Any]:
        return asdict(self) | {"concrete_profile": self.concrete_profile}


def load_profile(
    cfg: RunConfig, log: Callable[[str], None] | None = print
) -> dict[str, LoadedModel]:
    """Role -> loaded model for the run's profile (``auto`` resolved once, here)."""
    sources = resolve_profile(cfg.profile)
    return {
        role: load_model(sources[role], device=cfg.device, dtype=cfg.dtype, log=log)
        for role in ROLES
    }


def with_role(df: pd.DataFrame, role: str) -> pd.DataFrame:
    return df.assign(role=role)


def compute_table(
    name: str, models: dict[str, LoadedModel], cfg: RunConfig, s: experiments.Settings
) -> pd.DataFrame:
    """One of :data:`TABLES` for both roles, with a ``role`` column."""
    frames = []
    if name == "cwe_geometry":
        sentences = [x.text for x in experiments.cwe_sentence_set(list(models.values())).kept]
    for role, lm in models.items():
        if name == "cwe_geometry":
            df = experiments.cwe_geometry(experiments.cwe_states(lm, sentences, s), lm)
        elif name == "word_tasks":
            df = experiments.word_task_scores(lm, s=s)
        elif name == "sts":
            df = experiments.sts_benchmark_scores(lm, s=s)
        elif name == "sentence_self_similarity":
            df = experiments.sentence_self_similarity(lm, s=s)
        else:
            raise ValueError(f"unknown table {name!r}; choose one of {TABLES}")
        frames.append(with_role(df, role))
    return pd.concat(frames, ignore_index=True)


def reproduce(cfg: RunConfig, log: Callable[[str], None] = print) -> dict[str, pd.DataFrame]:
    """Compute every table, Table 1 and the claim checks; write them to ``cfg.out_dir``."""
    models = load_profile(cfg, log)
    s = cfg.settings()
    prov = results.provenance(models, cfg.params())
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        start = time.perf_counter()
        tables[name] = compute_table(name, models, cfg, s)
        results.write_table(tables[name], cfg.out_dir, name, prov)
        log(f"{name}: {time.perf_counter() - start:.1f}s")
    words = {role: g for role, g in tables["word_tasks"].groupby("role")}
    tables["table1"] = results.table1(words)
    tables["claims"] = results.claim_checks(tables)
    for name in ("table1", "claims"):
        results.write_table(tables[name], cfg.out_dir, name, prov)
    log(
        f"wrote {len(tables)} tables to {cfg.out_dir} (cache: {s.cache.hits} hits, "
        f"{s.cache.misses} misses)"
    )
    return tables
