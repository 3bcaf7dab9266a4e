"""Stand-in weights: the marker a model folder carries when its weights are random.

A rehearsal snapshot (:mod:`layerwise.platform.rehearsal` writes them: the paper's
architectures with random weights, under the paper's hub ids) carries the file
:data:`MARKER`. Loading reads it as a fact of the model (``ModelSpec.extra["rehearsal"]``,
:func:`marker_for`), so the book's banner and ``provenance.json`` say the numbers mean
nothing. The core reads the marker; only the platform writes one. Torch-free.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: The file in each rehearsal snapshot that marks its weights as random.
MARKER = "layerwise-rehearsal.json"


def read_marker(snapshot: Path) -> dict[str, Any] | None:
    """The rehearsal marker of a snapshot folder, or ``None`` when it has none."""
    path = Path(snapshot) / MARKER
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def is_rehearsal(snapshot: Path) -> bool:
    """Whether a snapshot (or model) folder holds rehearsal weights."""
    marker = read_marker(snapshot)
    return bool(marker and marker.get("rehearsal"))


def cached_snapshot(source: str, cache_dir: str | Path | None = None) -> Path | None:
    """The snapshot folder a hub id resolves to in the Hugging Face cache in use
    (``HF_HOME``/``HF_HUB_CACHE``, or ``cache_dir``); ``None`` when it is not cached or
    ``source`` is not a hub id."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(source, "config.json", cache_dir=cache_dir)
    except ValueError:  # not a hub id (``tiny:``, ``package:`` sources, paths)
        return None
    return Path(found).parent if isinstance(found, str) else None


def marker_for(source: str, cache_dir: str | Path | None = None) -> dict[str, Any]:
    """``{"rehearsal": True}`` when ``source`` (a hub id or folder) resolves to rehearsal
    weights, else ``{}``. This is what model loading puts into ``ModelSpec.extra``."""
    folder = Path(source) if Path(source).is_dir() else cached_snapshot(source, cache_dir)
    return {"rehearsal": True} if folder is not None and is_rehearsal(folder) else {}
