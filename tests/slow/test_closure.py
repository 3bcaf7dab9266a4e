"""End to end, the keys by dependency (src/layerwise/closure.py): a warm ``reproduce``
recomputes no table after a presentation edit and recomputes them after an estimator
edit (tiny profile, reduced scale, three runs: minutes). The fast checks of the keys are
in tests/models/test_closure.py."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from support import add_comment


def _reproduce(tmp_path: Path, log: list[str]) -> dict:
    from layerwise.pipeline.config import RunConfig
    from layerwise.pipeline.reproduce import reproduce

    cfg = RunConfig(
        profile="tiny",
        scale="reduced",
        device="cpu",
        cache_dir=str(tmp_path / "cache"),
        results_dir=str(tmp_path / "results"),
    )
    log.clear()
    return reproduce(cfg, log=log.append)


def _tables_computed(log: list[str]) -> int:
    """The number of tables a run computed, from its closing line ("tables N reused, M
    computed")."""
    (line,) = [x for x in log if x.startswith("wrote ")]
    print(*[x for x in log if re.match(r"\w+: [\d.]+s$", x)], line, sep="\n")  # with -s
    found = re.search(r"tables (\d+) reused, (\d+) computed", line)
    assert found, line
    return int(found.group(2))


def test_a_warm_reproduce_recomputes_no_table_after_a_presentation_edit(tmp_path, package_copy):
    """End to end on the tiny profile at reduced scale: a cold run, then a run after a
    comment in the prose and the figures computes no table, and a run after a comment in
    an estimator recomputes them, with the same numbers."""
    log: list[str] = []
    cold = _reproduce(tmp_path, log)
    assert _tables_computed(log) > 0
    add_comment(package_copy / "report" / "prose" / "anisotropy.py")
    add_comment(package_copy / "report" / "figures.py")
    _reproduce(tmp_path, log)
    assert _tables_computed(log) == 0
    add_comment(package_copy / "stats" / "geometry.py")
    again = _reproduce(tmp_path, log)
    assert _tables_computed(log) > 0
    for name, table in cold.items():
        pd.testing.assert_frame_equal(again[name], table)
