"""One extraction plan per model and run: every input a run needs goes through the model
once, and each extraction's entry is written into the cache under the key it has today.

A run (``reproduce``, ``compare``, a book build) knows the extractions its measurements will
make before the first forward pass: each is a *job*, a label and its requests, the arguments
of ``layerwise.store.cached.cached_extract``. :func:`run_plan` takes the jobs of one
model whose entries the cache lacks and:

- runs each distinct input (its token ids, after a causal model's cut after its last read)
  once, with the read spans of every job that reads it;
- in a causal model, reads an input that is a prefix of another from the longest input
  that extends it (position ``p`` sees tokens ``0..p`` only);
- batches inputs of one length together (:func:`~layerwise.extract.batched.extract` with
  ``padding=False``), so no token is padding;
- writes each job's reads, taken from that one result, into the cache under
  ``layerwise.store.keys.cache_key`` of the job's own requests and label, so the
  measurements then find every extraction in the cache and run as they always did.

A job the plan does not know is extracted when its measurement asks for it: the plan
saves forward passes, it never decides what is measured. What it does change is the last
bits of a float32 state, which on a CPU depend on the shape of the batch an input ran in
(its padded width and the number of rows: measured in issue 26, up to 4e-6 relative on
MiniLM); a state read from a longer input differs from the shorter input's own run in the
same way. Each entry is then what one run of the plan gives, the same on every run of the
same command; ``benchmarks/forward_passes.py`` counts the passes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..extract.batched import cut_after_last_read, extract
from ..extract.requests import Request
from ..models.spec import LoadedModel
from .cache import Cache
from .keys import cache_key


@dataclass(frozen=True)
class Job:
    """One extraction a measurement will make: its ``label`` and ``requests`` (the
    arguments of ``layerwise.store.cached.cached_extract``)."""

    label: str
    requests: tuple[Request, ...]


@dataclass
class Plan:
    """The merged extraction of some jobs: ``requests`` (distinct inputs, their reads
    merged, each run unpadded); ``rows[j]`` the rows of the merged result that job ``j``'s
    reads are, in the job's order."""

    requests: list[Request]
    rows: list[np.ndarray]

    @property
    def tokens(self) -> int:
        """Tokens the merged extraction runs (no padding)."""
        return sum(len(r.ids) for r in self.requests)


def make_plan(lm: LoadedModel, jobs: Sequence[Job]) -> Plan:
    """The merged extraction of ``jobs`` (see the module docstring): every distinct input
    once, a causal model's prefixes read from the longest input that extends them."""
    causal = lm.spec.causal
    unit_of: dict[tuple[int, ...], int] = {}
    units: list[tuple[int, ...]] = []
    reads: list[dict[tuple[int, int], None]] = []
    wanted: list[list[tuple[int, tuple[int, int]]]] = []
    for job in jobs:
        mine = []
        for r in job.requests:
            ids = cut_after_last_read(r).ids if causal else r.ids
            if ids not in unit_of:
                unit_of[ids] = len(units)
                units.append(ids)
                reads.append({})
            u = unit_of[ids]
            for span in r.reads:
                reads[u].setdefault(span, None)
                mine.append((u, span))
        wanted.append(mine)
    owner = list(range(len(units)))
    if causal:  # a prefix is read from the longest input that extends it
        by_prefix: dict[tuple[int, ...], int] = {}
        for u in sorted(range(len(units)), key=lambda u: -len(units[u])):
            if units[u] in by_prefix:
                owner[u] = by_prefix[units[u]]
                continue
            for k in range(1, len(units[u]) + 1):
                by_prefix.setdefault(units[u][:k], u)
        for u in range(len(units)):
            if owner[u] != u:
                for span in reads[u]:
                    reads[owner[u]].setdefault(span, None)
    requests, first = [], {}
    row = 0
    for u in range(len(units)):
        if owner[u] != u:
            continue
        spans = sorted(reads[u])
        requests.append(Request(units[u], tuple(spans)))
        first[u] = {span: row + i for i, span in enumerate(spans)}
        row += len(spans)
    rows = [
        np.array([first[owner[u]][span] for u, span in mine], dtype=np.int64) for mine in wanted
    ]
    return Plan(requests, rows)


def run_plan(
    lm: LoadedModel,
    jobs: Sequence[Job],
    cache: Cache | None,
    *,
    batch_size: int = 64,
    max_tokens: int | None = None,
    progress: bool | None = None,
) -> int:
    """Extract the ``jobs`` of ``lm`` whose entries ``cache`` lacks in one merged pass
    (:func:`make_plan`) and write each job's entry under its own key; returns the number of
    entries written (0, and the weights untouched, when the cache holds them all or there
    is no cache)."""
    if cache is None:
        return 0
    todo: dict[str, Job] = {}
    for job in jobs:
        if not job.requests:
            continue
        key = cache_key(lm, job.requests, job.label)
        if key not in todo and not cache.path(key).exists():
            todo[key] = job
    if not todo:
        return 0
    cache.ensure_writable()
    plan = make_plan(lm, list(todo.values()))
    merged = extract(
        lm,
        plan.requests,
        padding=False,
        batch_size=batch_size,
        max_tokens=max_tokens,
        progress=progress,
        desc=f"{lm.spec.name}: {len(todo)} extractions, merged",
        spill=cache.root,
    )
    try:
        for key, rows in zip(todo, plan.rows, strict=True):
            cache.save(key, merged.take(rows))
            cache.planned.add(key)
    finally:
        if merged.file is not None:
            merged.file.unlink(missing_ok=True)
    return len(todo)
