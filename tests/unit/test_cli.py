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


def _layerwise(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "layerwise", *args], capture_output=True, text=True, cwd=cwd
    )


def test_student_writes_the_edition_and_refuses_a_folder_in_use(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "class"
    done = _layerwise("student", "--out", str(out), cwd=root)
    assert done.returncode == 0, done.stderr
    n = len(list((root / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert len(list((out / "notebooks").glob("*.ipynb"))) == n == len(list(out.glob("key/*")))
    again = _layerwise("student", "--out", str(out), cwd=root)
    assert again.returncode == 2
    assert again.stderr.startswith(f"error: {out} exists and is not empty") and "--force" in (
        again.stderr
    )
    assert _layerwise("student", "--out", str(out), "--force", cwd=root).returncode == 0


def test_student_fold_folds_the_solutions_of_the_checkout_in_place(tmp_path):
    import json

    nb = {
        "cells": [
            {
                "cell_type": "markdown",
                "id": "e",
                "metadata": {},
                "source": "```{exercise} T\n:label: ex-x-y\n```",
            },
            {
                "cell_type": "markdown",
                "id": "s",
                "metadata": {},
                "source": "```{solution-start} ex-x-y\n```",
            },
            {
                "cell_type": "code",
                "id": "c",
                "metadata": {},
                "source": "1",
                "outputs": [],
                "execution_count": None,
            },
            {
                "cell_type": "markdown",
                "id": "n",
                "metadata": {},
                "source": "```{solution-end}\n```",
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (tmp_path / "notebooks").mkdir()
    path = tmp_path / "notebooks" / "01_x.ipynb"
    path.write_text(json.dumps(nb))
    done = _layerwise("student", "--fold", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "folded the solutions of 1 notebook(s)" in done.stdout
    cells = json.loads(path.read_text())["cells"]
    assert [c["metadata"].get("jupyter") for c in cells] == [
        None,
        None,
        {"source_hidden": True, "outputs_hidden": True},
        None,
    ]
    assert "of 0 notebook(s)" in _layerwise("student", "--fold", cwd=tmp_path).stdout
    missing = _layerwise("student", "--fold", cwd=tmp_path / "notebooks")
    assert missing.returncode == 2 and "holds no chapter" in missing.stderr
