"""A run of the whole reproduction for one profile: models, parameters, tables.

The notebooks and ``python -m layerwise reproduce`` share these functions, so
the book and the command line compute the same numbers from the same cache.
A run is checked before any model runs (:meth:`RunConfig.validate`), loads
weights only when some extraction is not cached, and caches every computed table
(with its bootstrap intervals) under a key naming the models' fingerprints, the
parameters and the package's code, so a warm re-run reads instead of recomputing.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from . import experiments, memo, results
from .cache import Cache, key_of, model_identity
from .errors import InputError, OutputError
from .fingerprint import package_hash
from .models import LoadedModel, check_device, load_model, profile_name, resolve_profile

#: Sample sizes per scale. ``full`` is the paper's; ``reduced`` is for CI and quick looks.
SCALES: dict[str, dict[str, int]] = {
    "full": {"n_cwe": 10_000, "n_resamples": 1000},
    "reduced": {"n_cwe": 1_000, "n_resamples": 200},
}
ROLES = ("contrastive", "causal")
TABLES = ("cwe_geometry", "word_tasks", "sts", "sentence_self_similarity")


#: Environment variable pinning hub revisions, "causal=REV contrastive=REV" (the book's kernels
#: inherit it from ``make book REVISIONS=...``).
REVISIONS_ENV = "LAYERWISE_REVISIONS"


def parse_revisions(text: str) -> dict[str, str]:
    """``"causal=abc contrastive=def"`` (spaces or commas) -> ``{"causal": "abc", ...}``."""
    out: dict[str, str] = {}
    for item in text.replace(",", " ").split():
        role, sep, rev = item.partition("=")
        if not sep or role not in ROLES or not rev:
            raise InputError(
                f"cannot read the revision pin {item!r} (from {REVISIONS_ENV}); write "
                f"ROLE=REVISION with ROLE one of {ROLES}"
            )
        out[role] = rev
    return out


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
    #: role -> hub revision (commit, branch or tag) to pin, e.g. {"causal": "607a30d..."}
    revisions: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise InputError(f"unknown scale {self.scale!r}; choose one of {sorted(SCALES)}")
        defaults = SCALES[self.scale]
        self.n_cwe = self.n_cwe or defaults["n_cwe"]
        self.n_resamples = self.n_resamples or defaults["n_resamples"]
        self.revisions = dict(self.revisions or parse_revisions(os.environ.get(REVISIONS_ENV, "")))

    def validate(self, *, outputs: bool = True) -> None:
        """Check everything a run needs before any model runs; each failure is a
        :class:`~layerwise.errors.LayerwiseError` naming the remedy."""
        for name in ("batch_size", "n_cwe", "n_resamples"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        unknown = sorted(set(self.revisions) - set(ROLES))
        if unknown:
            raise InputError(f"revisions for unknown role(s) {unknown}; roles are {ROLES}")
        check_device(self.device, self.dtype)
        self.cache().ensure_writable()
        if outputs:
            ensure_writable_folder(self.out_dir, "results folder (--out)")

    def cache(self) -> Cache:
        """The run's cache: ``cache_dir``, else :func:`~layerwise.cache.default_cache_dir`."""
        return Cache(self.cache_dir) if self.cache_dir else Cache()

    @property
    def concrete_profile(self) -> str:
        return profile_name(self.profile)

    @property
    def out_dir(self) -> Path:
        return Path(self.results_dir) / self.concrete_profile

    def settings(self) -> experiments.Settings:
        """The run's settings; its cache also memoises bootstrap intervals (:mod:`.memo`)."""
        cache = self.cache()
        memo.activate(cache)
        return experiments.Settings(
            n_cwe=self.n_cwe,
            seed=self.seed,
            batch_size=self.batch_size,
            n_resamples=self.n_resamples,
            cache=cache,
        )

    def params(self) -> dict[str, Any]:
        return asdict(self) | {"concrete_profile": self.concrete_profile}


def ensure_writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` and prove it takes a file, or raise :class:`OutputError`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise OutputError(
            f"the {what} {folder} cannot be written ({err.strerror or err}); choose another "
            "folder or fix its permissions"
        ) from err


def load_profile(
    cfg: RunConfig, log: Callable[[str], None] | None = print
) -> dict[str, LoadedModel]:
    """Role -> model for the run's profile (``auto`` resolved once, here).

    The weights are read only when an extraction misses the cache (lazy loading).
    """
    cfg.validate(outputs=False)
    sources = resolve_profile(cfg.profile)
    root = cfg.cache().root
    return {
        role: load_model(
            sources[role],
            device=cfg.device,
            dtype=cfg.dtype,
            revision=cfg.revisions.get(role),
            log=log,
            cache_dir=root,
            lazy=True,
        )
        for role in ROLES
    }


def with_role(df: pd.DataFrame, role: str) -> pd.DataFrame:
    return df.assign(role=role)


def table_key(name: str, models: dict[str, LoadedModel], s: experiments.Settings) -> str:
    """Cache key of a computed table: models, sample sizes, seed and the package's code."""
    return key_of(
        {
            "table": name,
            "models": {role: model_identity(lm) for role, lm in models.items()},
            "params": {"n_cwe": s.n_cwe, "seed": s.seed, "n_resamples": s.n_resamples},
            "package": package_hash(),
        }
    )


def compute_table(
    name: str, models: dict[str, LoadedModel], cfg: RunConfig, s: experiments.Settings
) -> pd.DataFrame:
    """One of :data:`TABLES` for both roles, with a ``role`` column (cached in ``s.cache``)."""
    if name not in TABLES:
        raise InputError(f"unknown table {name!r}; choose one of {TABLES}")
    if s.cache is None:
        return _compute_table(name, models, s)
    return s.cache.get_or_compute_frame(
        table_key(name, models, s), lambda: _compute_table(name, models, s)
    )


def _compute_table(
    name: str, models: dict[str, LoadedModel], s: experiments.Settings
) -> pd.DataFrame:
    frames = []
    if name == "cwe_geometry":
        sentences = experiments.cwe_sentences(list(models.values()), s)
    for role, lm in models.items():
        if name == "cwe_geometry":
            df = experiments.cwe_geometry(experiments.cwe_states(lm, sentences, s), lm)
        elif name == "word_tasks":
            df = experiments.word_task_scores(lm, s=s)
        elif name == "sts":
            df = experiments.sts_benchmark_scores(lm, s=s)
        elif name == "sentence_self_similarity":
            df = experiments.sentence_self_similarity(lm, s=s)
        frames.append(with_role(df, role))
    return pd.concat(frames, ignore_index=True)


def reproduce(cfg: RunConfig, log: Callable[[str], None] = print) -> dict[str, pd.DataFrame]:
    """Compute every table, Table 1 and the claim checks; write them to ``cfg.out_dir``."""
    cfg.validate()
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
    log(f"wrote {len(tables)} tables to {cfg.out_dir}; cache: {s.cache.report()}")
    for note in s.cache.rejected:
        log(f"rejected cache entry: {note}")
    return tables
