"""Reusing a chapter's executed copy when nothing it depends on changed (``make book``).

A chapter's run is determined by its notebook, its parameters, the code it imports, the
vendored data, the installed packages and the models' weights. :func:`chapter_key` hashes
all of them, the code as the import closure of the package modules the notebook's code
cells import and of the modules that run it (:data:`RUNNER`; :mod:`layerwise.closure`).
When a previous build executed the chapter under the same key, and the result files it
wrote are still there, byte for byte, the build takes that executed copy instead of
starting a kernel. Editing a chapter re-executes that chapter only: chapters read no
other chapter's output (each computes its tables through the content-addressed cache);
editing a module re-executes the chapters whose imports reach it, however indirectly.

Why not jupyter-cache, which myst-nb uses for the same purpose: it keys a notebook by its
code cells only, so an edit of a markdown cell's ``{eval}`` roles would be served the old
results; it cannot see a change of the package, the data or the weights, which live
outside the notebook; and it restores code-cell outputs only, not the markdown cells'
stored ``user_expressions`` (:mod:`layerwise.site.inline`).

The store is ``_build/reuse/<chapter>.ipynb`` with ``<chapter>.json`` (key, run record,
wall time, result files and their sha256).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ..closure import code_digest, notebook_modules
from ..files import PACKAGES, package_versions, sha256_file
from ..locks import LOCK_NAME
from ..models.fingerprint import hub_snapshot

#: Where executed chapters are kept between builds (under the repository root).
STORE = Path("_build") / "reuse"
#: Version of the stored entries' layout; an entry of another version is not reused.
FORMAT = 1
#: Environment variables a chapter's run reads.
ENV_KEYS = ("LAYERWISE_REVISIONS", "HF_HOME", "HF_HUB_OFFLINE", "LAYERWISE_CACHE")
#: The package modules that execute every chapter besides what its notebook imports: the
#: engine evaluating the markdown's ``{eval}`` roles and the injected record cell.
RUNNER = ("layerwise.site.eval_adapter", "layerwise.site.build_report")


def inputs_digest(sources: Iterable[str]) -> str:
    """sha256 of what every chapter depends on besides its notebook, its parameters and
    its code (:func:`chapter_code`): the installed packages' versions, the environment
    variables in :data:`ENV_KEYS`, and for each hub model in ``sources`` the snapshot
    folder its cache resolves to (a new snapshot is a new key)."""
    h = hashlib.sha256()
    h.update(json.dumps(package_versions(PACKAGES), sort_keys=True).encode())
    h.update(json.dumps({k: os.environ.get(k) for k in ENV_KEYS}, sort_keys=True).encode())
    for source in sorted(set(sources)):
        local = source.startswith(("tiny:", "package:")) or os.path.isdir(source)
        h.update(f"{source}={'' if local else hub_snapshot(source)}".encode())
    return h.hexdigest()


def chapter_code(notebook: Path) -> str:
    """:func:`~layerwise.closure.code_digest` of the package modules ``notebook``'s code
    cells import and of :data:`RUNNER`: the closure of that code and the data checksums.
    Raises :class:`~layerwise.errors.InputError` for a notebook that cannot be read."""
    return code_digest([*notebook_modules(notebook), *RUNNER])


def chapter_key(notebook: Path, params: Mapping[str, Any], inputs: str) -> str:
    """sha256 of a chapter's notebook file, its parameters, its code (:func:`chapter_code`)
    and :func:`inputs_digest`."""
    h = hashlib.sha256(notebook.read_bytes())
    h.update(json.dumps(dict(params), sort_keys=True, default=str).encode())
    h.update(chapter_code(notebook).encode())
    h.update(inputs.encode())
    return h.hexdigest()


#: The file every chapter adds its tables' provenance to (:mod:`layerwise.report.provenance`).
PROVENANCE = "provenance.json"


def _provenance(folder: Path) -> dict[str, Any]:
    try:
        found = json.loads((folder / PROVENANCE).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def result_files(folder: Path, since: float) -> dict[str, Any]:
    """What a chapter wrote under ``folder`` at or after ``since``: ``files`` (path ->
    sha256, every file but the shared ``provenance.json`` and the folder's lock) and
    ``provenance`` (the entries of its tables in that file, which later chapters rewrite
    with theirs)."""
    if not folder.is_dir():
        return {"files": {}, "provenance": {}}
    files = {
        str(p): sha256_file(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name not in (PROVENANCE, LOCK_NAME) and p.stat().st_mtime >= since
    }
    shared = _provenance(folder)
    tables = {Path(p).stem for p in files}
    return {"files": files, "provenance": {t: shared[t] for t in sorted(tables & set(shared))}}


def reusable(root: Path, stem: str, key: str) -> dict[str, Any] | None:
    """The stored entry of chapter ``stem`` when it was executed under ``key``, every
    result file it wrote is unchanged, and ``provenance.json`` still holds its tables'
    entries; else ``None``."""
    meta, executed = root / STORE / f"{stem}.json", root / STORE / f"{stem}.ipynb"
    try:
        entry = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    if entry.get("format") != FORMAT or entry.get("key") != key or not executed.is_file():
        return None
    results = entry.get("results", {})
    for path, digest in results.get("files", {}).items():
        if not Path(path).is_file() or sha256_file(Path(path)) != digest:
            return None
    if results.get("provenance"):
        folder = Path(next(iter(results["files"]))).parent
        shared = _provenance(folder)
        if any(shared.get(t) != v for t, v in results["provenance"].items()):
            return None
    return entry


def store(
    root: Path,
    stem: str,
    key: str,
    executed: Path,
    record: Mapping[str, Any],
    seconds: float,
    results: Mapping[str, Any],
) -> None:
    """Keep chapter ``stem``'s executed copy and its entry for the next build."""
    folder = root / STORE
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(executed, folder / f"{stem}.ipynb")
    entry = {
        "format": FORMAT,
        "key": key,
        "record": dict(record),
        "seconds": seconds,
        "results": dict(results),
    }
    (folder / f"{stem}.json").write_text(json.dumps(entry, indent=1))


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it already holds exactly that (Sphinx then sees an
    unchanged page and does not read it again); returns whether it wrote."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def sync_tree(src: Path, dest: Path) -> None:
    """Make ``dest`` a copy of ``src`` (a file or a folder), writing only what differs and
    removing files ``src`` does not have."""
    if src.is_file():
        write_if_changed(dest, src.read_bytes())
        return
    wanted = {p.relative_to(src) for p in src.rglob("*") if p.is_file()}
    for rel in wanted:
        write_if_changed(dest / rel, (src / rel).read_bytes())
    if dest.is_dir():
        for p in sorted(dest.rglob("*"), reverse=True):
            if p.is_file() and p.relative_to(dest) not in wanted:
                p.unlink()
