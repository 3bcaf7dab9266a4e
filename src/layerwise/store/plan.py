"""One extraction plan per model and run: every input a run needs goes through the model
once, and each extraction's entry is written into the cache under the key it has today.

A run (``reproduce``, ``compare``) knows the extractions its measurements will make before
the first forward pass: each is a *job*, a label and its requests, the arguments of
:func:`~layerwise.store.cached.cached_extract`. :func:`run_plan` takes the jobs of one
model whose entries the cache lacks and:

- gives each request the padded width its batch has when the job is extracted on its own
  (:func:`~layerwise.extract.batched.batch_widths`): on a CPU the last bits of a state
  depend on that width, so each input runs at the width it would have had;
- runs each distinct input (its token ids after the causal cut, and its width) once, with
  the read spans of every job that reads it; in a causal model an input that is a prefix
  of another one of the same width is read from the longer one (position ``p`` sees
  tokens ``0..p`` only, and the padding of the shorter one is masked);
- writes each job's reads, taken from that one result, into the cache under
  :func:`~layerwise.store.keys.cache_key` of the job's own requests and label, so the
  measurements then find every extraction in the cache (keyed as before: same requests,
  same key) and run as they always did.

A job the plan does not know is simply extracted when its measurement asks for it: the
plan saves forward passes, it never decides a number. What the plan gives is the states
:func:`~layerwise.extract.batched.extract` gives at the same widths; whether a matrix
product's last bits also depend on the other rows of a batch is the machine's BLAS's
business (``benchmarks/forward_passes.py`` counts the passes, and the reduced
``reproduce`` CSVs are compared with those of a run without the plan).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..extract.batched import batch_widths, cut_after_last_read, extract_at_widths
from ..extract.requests import Request
from ..models.spec import LoadedModel
from .cache import Cache
from .keys import cache_key


@dataclass(frozen=True)
class Job:
    """One extraction a measurement will make: its ``label`` and ``requests`` (the
    arguments of :func:`~layerwise.store.cached.cached_extract`)."""

    label: str
    requests: tuple[Request, ...]


@dataclass
class Plan:
    """The merged extraction of some jobs: ``requests`` (distinct inputs, their reads
    merged), each run at ``widths``; ``rows[j]`` the rows of the merged result that job
    ``j``'s reads are, in the job's order."""

    requests: list[Request]
    widths: np.ndarray
    rows: list[np.ndarray]

    @property
    def tokens(self) -> int:
        """Padded tokens the merged extraction runs (each input at its width)."""
        return int(self.widths.sum())


def make_plan(
    lm: LoadedModel, jobs: Sequence[Job], batch_size: int = 64, max_tokens: int | None = None
) -> Plan:
    """The merged extraction of ``jobs`` (see the module docstring): every (input, width)
    once, a causal model's prefixes read from the longest input of their width that
    extends them."""
    causal = lm.spec.causal
    unit_of: dict[tuple[tuple[int, ...], int], int] = {}
    units: list[tuple[tuple[int, ...], int]] = []
    reads: list[dict[tuple[int, int], None]] = []
    wanted: list[list[tuple[int, tuple[int, int]]]] = []
    for job in jobs:
        widths = batch_widths(lm, job.requests, batch_size, max_tokens)
        mine = []
        for r, w in zip(job.requests, widths, strict=True):
            ids = cut_after_last_read(r).ids if causal else r.ids
            key = (ids, int(w))
            if key not in unit_of:
                unit_of[key] = len(units)
                units.append(key)
                reads.append({})
            u = unit_of[key]
            for span in r.reads:
                reads[u].setdefault(span, None)
                mine.append((u, span))
        wanted.append(mine)
    owner = list(range(len(units)))
    if causal:  # a prefix (same width) is read from the longest input that extends it
        by_prefix: dict[tuple[tuple[int, ...], int], int] = {}
        for u in sorted(range(len(units)), key=lambda u: -len(units[u][0])):
            ids, w = units[u]
            if (ids, w) in by_prefix:
                owner[u] = by_prefix[(ids, w)]
                continue
            for k in range(1, len(ids) + 1):
                by_prefix.setdefault((ids[:k], w), u)
        for u in range(len(units)):
            if owner[u] != u:
                for span in reads[u]:
                    reads[owner[u]].setdefault(span, None)
    kept = [u for u in range(len(units)) if owner[u] == u]
    requests, widths, first = [], [], {}
    row = 0
    for u in kept:
        spans = sorted(reads[u])
        requests.append(Request(units[u][0], tuple(spans)))
        widths.append(units[u][1])
        first[u] = {span: row + i for i, span in enumerate(spans)}
        row += len(spans)
    rows = [
        np.array([first[owner[u]][span] for u, span in mine], dtype=np.int64) for mine in wanted
    ]
    return Plan(requests, np.array(widths, dtype=np.int64), rows)


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
    plan = make_plan(lm, list(todo.values()), batch_size, max_tokens)
    merged = extract_at_widths(
        lm,
        plan.requests,
        plan.widths,
        batch_size=batch_size,
        max_tokens=max_tokens,
        progress=progress,
        desc=f"{lm.spec.name}: {len(todo)} extractions, merged",
        spill=cache.root,
    )
    try:
        for key, rows in zip(todo, plan.rows, strict=True):
            cache.save(key, merged.take(rows))
    finally:
        if merged.file is not None:
            merged.file.unlink(missing_ok=True)
    return len(todo)
