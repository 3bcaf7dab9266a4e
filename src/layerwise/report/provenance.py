"""Result tables on disk and their provenance.

Every table a run produces is written to ``results/<profile>/<name>.csv``;
``provenance.json`` beside it records, per table, what produced it: model
sources and revisions, data checksums, parameters, package versions, device and
date (chapter 6, ``notebooks/06_discussion``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import platform
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import data
from ..errors import OutputError
from ..files import atomic_write_texts, clean_own_temporaries, package_versions
from ..models.spec import LoadedModel

logger = logging.getLogger(__name__)


def provenance(models: Mapping[str, LoadedModel], params: Mapping[str, Any]) -> dict[str, Any]:
    """What produced a result: models (by role), data checksums, parameters, versions, date."""
    return {
        "models": {role: lm.spec.as_dict() for role, lm in models.items()},
        "data_sha256": data.dataset_checksums(),
        "parameters": dict(params),
        "versions": package_versions(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def write_table(df: pd.DataFrame, out_dir: str | Path, name: str, prov: Mapping[str, Any]) -> Path:
    """Write ``<out_dir>/<name>.csv`` and record its provenance in ``provenance.json``.

    Both files are written atomically (:func:`~layerwise.files.atomic_write_texts`): each
    goes to a temporary file in the same folder, and only when both are complete are they
    moved into place (``os.replace``), so a crash or a full disk leaves the previous files
    intact and no temporary file behind; temporaries a killed run left in the folder are
    removed first. An
    existing ``provenance.json`` that cannot be read (truncated, not JSON) is set aside as
    ``provenance.json.corrupt-<UTC timestamp>`` with a warning, and a new one is started.

    Raises:
        OutputError: the folder cannot be created or written (read-only, disk full...); the
            message names the path and the remedy.
    """
    out = Path(out_dir)
    path = out / f"{name}.csv"
    prov_path = out / "provenance.json"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(out, exc) from exc
    clean_own_temporaries(out)  # left by an interrupted write into this folder
    records = _read_provenance(prov_path)
    records[name] = dict(prov)
    csv_text = df.to_csv(index=False)
    prov_text = json.dumps(records, indent=2, sort_keys=True, default=str)
    try:
        atomic_write_texts({path: csv_text, prov_path: prov_text})
    except OSError as exc:
        raise _output_error(path, exc) from exc
    return path


def _output_error(path: Path, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    return OutputError(
        f"cannot write {path}: {reason}. Make sure the folder is writable and the disk has "
        "free space, or choose another output folder (--out, or results_dir in a notebook)."
    )


def _read_provenance(prov_path: Path) -> dict[str, Any]:
    """The records of an existing ``provenance.json`` ({} if none); an unreadable one is
    renamed ``provenance.json.corrupt-<timestamp>`` (with a warning) and {} returned."""
    if not prov_path.exists():
        return {}
    try:
        records = json.loads(prov_path.read_text(encoding="utf-8"))
        if isinstance(records, dict):
            return records
        problem = f"holds a JSON {type(records).__name__}, not an object"
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        problem = f"cannot be read ({exc})"
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    aside = prov_path.with_name(f"{prov_path.name}.corrupt-{stamp}")
    try:
        os.replace(prov_path, aside)
    except OSError as exc:
        raise _output_error(prov_path, exc) from exc
    warnings.warn(
        f"{prov_path} {problem}; set it aside as {aside.name} and started a new one "
        "(the earlier tables' provenance is in the set-aside file).",
        stacklevel=3,
    )
    return {}
