"""The build report: what a reader needs to trust and re-create a built book.

``make book`` appends one hidden cell to each chapter it executes; the cell calls
:func:`record` on the chapter's namespace, which writes a small JSON record (models
and revisions, device, extraction cache reused and computed in that chapter). After
the last chapter, :func:`report_markdown` turns the records, the chapters' wall
times and the package versions into the appendix page ``book/build_report.md``
(the staged copy is overwritten; the committed page says how it is filled).
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..files import PACKAGES, package_versions

#: Kinds of cached results the report counts (see :attr:`layerwise.store.cache.Cache.counts`).
KINDS = ("extractions", "tables", "intervals", "values")
#: Tag that keeps the recording cell out of the rendered page.
HIDDEN = "remove-cell"


def record_cell_source(path: Path) -> str:
    """Source of the cell appended to a chapter: records the run into ``path``."""
    return f"from layerwise.site import build_report\nbuild_report.record(globals(), {str(path)!r})"


def record(namespace: Mapping[str, Any], path: str | Path) -> dict[str, Any]:
    """Write the chapter's run record (models, device, cache counts) to ``path`` as JSON.

    ``namespace`` is the chapter's globals: ``models`` (role -> LoadedModel) and ``s``
    (:class:`~layerwise.measure.common.MeasureOptions`) are read when present; a chapter
    without them records ``None`` for what it does not have.
    """
    models = namespace.get("models") or {}
    settings = namespace.get("s")
    cache = getattr(settings, "cache", None)
    out: dict[str, Any] = {
        "models": {
            role: {
                "name": lm.spec.name,
                "source": lm.spec.source,
                "revision": str(lm.spec.revision),
                "device": str(lm.spec.device),
                "dtype": str(lm.spec.dtype),
            }
            for role, lm in models.items()
        },
        "cache": dict(cache.counts) if cache is not None else None,
        "cache_rejected": len(cache.rejected) if cache is not None else None,
    }
    Path(path).write_text(json.dumps(out, indent=2))
    return out


#: The build report's row for the extraction plan run before the first chapter
#: (:mod:`layerwise.pipeline.book_plan`).
PLAN = "extraction plan"


def _cell(value: object) -> str:
    return "\u2013" if value is None else str(value)


def report_markdown(
    records: Mapping[str, Mapping[str, Any]],
    timings: Mapping[str, float],
    *,
    profile: str,
    scale: str,
    versions: Mapping[str, str | None] | None = None,
    built: datetime | None = None,
    reused: Sequence[str] = (),
) -> str:
    """The build report page (MyST markdown). ``records``: chapter -> :func:`record`'s
    output; ``timings``: chapter -> wall seconds; ``reused``: the chapters this build did
    not execute because nothing they depend on changed (their record and time are those
    of the run it reused). An en dash marks what a chapter did not record (no cache in
    chapter 1) or a package that is not installed."""
    built = built or datetime.now(timezone.utc)
    versions = versions if versions is not None else package_versions(PACKAGES)
    lines = [
        "# Build report",
        "",
        f"Written by `make book` on {built:%Y-%m-%d %H:%M} UTC, profile `{profile}`, "
        f"scale `{scale}`, on {platform.system()} {platform.machine()} with Python "
        f"{platform.python_version()}. Rebuild with "
        f"`make book PROFILE={profile} SCALE={scale}`.",
        "",
        "## Chapters",
        "",
        "Wall time of each chapter's execution and, for each kind of cached result, how "
        "many it read from the cache (reused) or computed (and cached): extractions "
        "(hidden states), tables, bootstrap intervals, and other values (token counts, "
        "sentence sets, checks). A dash: the chapter uses no cache, or none of that kind. "
        "A chapter whose notebook, parameters, package code, data, packages and model "
        "snapshots are unchanged since its last run is not executed again: *run* says "
        "`reused` and the row is that earlier run's. The row *extraction plan*, when a "
        "chapter executed, is the build's step before the first chapter: the extractions "
        "every chapter's tables read, each needed input run once (methods, *Batched "
        "extraction*); the chapters then read them from the cache.",
        "",
        "| chapter | run | wall time (s) | "
        + " | ".join(f"{k} reused | {k} computed" for k in KINDS)
        + " |",
        "| --- | --- | ---: |" + " ---: | ---: |" * len(KINDS),
    ]
    for chapter, rec in records.items():
        counts = rec.get("cache") or {}
        cells = [
            _cell(counts.get(kind, {}).get(how)) for kind in KINDS for how in ("reused", "computed")
        ]
        run = "reused" if chapter in reused else "executed"
        name = chapter if chapter == PLAN else f"`{chapter}`"
        lines.append(
            f"| {name} | {run} | {_cell(timings.get(chapter))} | " + " | ".join(cells) + " |"
        )
    models: dict[str, Mapping[str, Any]] = {}
    for rec in records.values():
        for role, info in rec.get("models", {}).items():
            models.setdefault(role, info)
    lines += [
        "",
        "## Models",
        "",
        "| role | model | source | revision | device | dtype |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for role, info in models.items():
        lines.append(
            f"| {role} | {info['name']} | `{info['source']}` | `{info['revision']}` "
            f"| {info['device']} | {info['dtype']} |"
        )
    lines += ["", "## Package versions", "", "| package | version |", "| --- | --- |"]
    lines += [f"| {name} | {_cell(v)} |" for name, v in versions.items()]
    return "\n".join(lines) + "\n"
