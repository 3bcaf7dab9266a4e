"""``python -m layerwise --help`` (src/layerwise/cli.py) as a newcomer reads it: plain text,
the module docstring's reStructuredText markup removed."""

from __future__ import annotations

import subprocess
import sys


def test_help_shows_the_commands_without_rst_markup():
    out = subprocess.run(
        [sys.executable, "-m", "layerwise", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "python -m layerwise reproduce|book|info|rehearse|compare|models-page|student" in out
    assert "(layerwise.platform.rehearsal)" in out
    assert "``" not in out and ":mod:" not in out
