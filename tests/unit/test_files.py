"""layerwise.files: the package's temporary files."""

from __future__ import annotations

import time
from pathlib import Path

from layerwise import files

DEAD_PID = 999_999_999  # above any pid Linux hands out


def test_pids_in_temp_names_are_read_from_the_end():
    """The pid of ``.layerwise-<tag><random>.<pid>.tmp`` is the last dotted part, even when
    the tag holds dots (a result file's name)."""
    now = time.time()
    assert files.is_orphan(Path(f".layerwise-table.csv-ab.{DEAD_PID}.tmp"), now)
    assert not files.is_orphan(Path(f"table.csv.{DEAD_PID}.tmp"), now)
