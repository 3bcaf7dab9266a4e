"""report.provenance: result tables and provenance.json are written whole or not at all."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import layerwise.report.provenance as report_provenance
from layerwise.errors import LayerwiseError, OutputError


def _fingerprint(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_truncated_provenance_is_set_aside_and_rewritten(tmp_path: Path) -> None:
    df = pd.DataFrame({"layer": [0, 1], "value": [0.5, np.nan]})
    report_provenance.write_table(df, tmp_path, "first", {"seed": 0})
    prov = tmp_path / "provenance.json"
    broken = prov.read_bytes()[:10]
    prov.write_bytes(broken)
    with pytest.warns(UserWarning, match=r"provenance\.json cannot be read.*corrupt-"):
        report_provenance.write_table(df, tmp_path, "second", {"seed": 1})
    (aside,) = tmp_path.glob("provenance.json.corrupt-*")
    assert aside.read_bytes() == broken  # nothing lost
    assert json.loads(prov.read_text()) == {"second": {"seed": 1}}
    assert pd.read_csv(tmp_path / "second.csv").equals(df)
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_failed_write_changes_nothing_and_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = pd.DataFrame({"layer": [0], "value": [0.5]})
    report_provenance.write_table(df, tmp_path, "table", {"seed": 0})
    before = _fingerprint(tmp_path)

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report_provenance.os, "fsync", full_disk)
    with pytest.raises(OutputError) as info:
        report_provenance.write_table(pd.DataFrame({"layer": [9]}), tmp_path, "table", {"seed": 9})
    message = str(info.value)
    assert str(tmp_path / "table.csv") in message and "No space left" in message
    assert "another output folder" in message and isinstance(info.value, LayerwiseError)
    assert _fingerprint(tmp_path) == before  # old CSV and provenance intact, no temp files


def test_an_output_folder_that_cannot_be_created_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OutputError, match=r"cannot write .*results"):
        report_provenance.write_table(pd.DataFrame({"a": [1]}), blocker / "tiny", "t", {})
    assert blocker.read_text() == "a file where the folder should be"
