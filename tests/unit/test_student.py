"""The student edition, the teacher's key and the folded solutions
(:mod:`layerwise.site.student`), on a notebook built here and on the committed chapters.

Expectations are computed here from the notebooks' JSON (which cells lie between a
``solution-start`` and its ``solution-end``), not with the module's own parser.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from layerwise.errors import InputError
from layerwise.site import student

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

PARAMS = 'profile = "auto"\nresults_dir = "../results"  # tables go to <results_dir>/<profile>/'
INTRO = "## Exercises\n\nEach exercise takes minutes.\n\nIts worked solution follows it, folded."


def _md(source: str, cid: str):
    cell = nbformat.v4.new_markdown_cell(source)
    cell.id = cid
    return cell


def _code(source: str, cid: str, output: str = "1"):
    cell = nbformat.v4.new_code_cell(source)
    cell.id = cid
    cell.execution_count = 3
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    return cell


def _exercise(label: str, cid: str):
    return _md(f"```{{exercise}} Title {label}\n:label: {label}\n\nDo {label}.\n```", cid)


def _start(label: str, cid: str):
    return _md(f"```{{solution-start}} {label}\n:class: dropdown\n```", cid)


def _end(cid: str):
    return _md("```{solution-end}\n```", cid)


def _chapter():
    """A chapter with two exercises: ex-a (two code cells and a markdown cell), ex-b (one)."""
    nb = nbformat.v4.new_notebook()
    params = _code(PARAMS, "params")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        _md("# A chapter\n\nText.", "title"),
        params,
        _code("x = 1", "setup"),
        _md("## Summary", "summary"),
        _md(INTRO, "intro"),
        _exercise("ex-a", "ex-a"),
        _start("ex-a", "start-a"),
        _code("y = x + 1", "sol-a1"),
        _md("Because.", "sol-a-md"),
        _code("y * 2", "sol-a2"),
        _end("end-a"),
        _exercise("ex-b", "ex-b"),
        _start("ex-b", "start-b"),
        _code("x - 1", "sol-b1"),
        _end("end-b"),
        _md("## References", "refs"),
    ]
    return nb


SOLUTION_IDS = ["start-a", "sol-a1", "sol-a-md", "sol-a2", "end-a", "start-b", "sol-b1", "end-b"]
CONTENT_IDS = ["sol-a1", "sol-a-md", "sol-a2", "sol-b1"]


def _ids(nb) -> list[str]:
    return [c["id"] for c in nb["cells"]]


def test_student_notebook_drops_every_solution_cell_and_keeps_the_rest():
    nb = _chapter()
    out = student.student_notebook(nb, "ch.ipynb")
    assert _ids(out) == [i for i in _ids(nb) if i not in SOLUTION_IDS]
    assert len(out.cells) == len(nb.cells) - 8
    assert all(c.get("outputs", []) == [] for c in out.cells)
    assert all(c.get("execution_count") is None for c in out.cells if c.cell_type == "code")
    params = out.cells[1]
    assert params.source == PARAMS and params.metadata["tags"] == ["parameters"]
    # the exercise statements stay, unchanged
    assert out.cells[5].source == nb.cells[5].source and "Do ex-b." in out.cells[6].source
    # the input is left as it was
    assert _ids(nb)[6] == "start-a" and nb.cells[2].outputs


def test_student_intro_promises_no_solution():
    out = student.student_notebook(_chapter(), "ch.ipynb")
    intro = next(c.source for c in out.cells if c.id == "intro")
    assert intro.startswith("## Exercises\n\nEach exercise takes minutes.")
    assert "follows it" not in intro and "folded" not in intro
    assert intro.endswith(student.STUDENT_NOTE)
    assert "left out" in intro


def test_key_notebook_lists_each_statement_then_its_solution():
    nb = _chapter()
    key = student.key_notebook(nb, "notebooks/07_ch.ipynb")
    assert _ids(key) == ["key-intro", "ex-a", "sol-a1", "sol-a-md", "sol-a2", "ex-b", "sol-b1"]
    first = key.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# Key: A chapter")
    assert "07_ch.ipynb" in first.source and "after the chapter's own cells" in first.source
    assert all(c.get("outputs", []) == [] for c in key.cells)
    nbformat.validate(key)


def test_fold_solutions_folds_each_solution_cell_once():
    nb = _chapter()
    nb.cells[7].metadata["tags"] = ["keep-me"]
    assert student.fold_solutions(nb, "ch.ipynb") == len(CONTENT_IDS)
    for cell in nb.cells:
        folded = cell.metadata.get("jupyter") == {"source_hidden": True, "outputs_hidden": True}
        assert folded == (cell.id in CONTENT_IDS), cell.id
    assert nb.cells[7].metadata["tags"] == ["keep-me"]
    assert student.fold_solutions(nb, "ch.ipynb") == 0  # idempotent
    # the key shows the solutions unfolded
    key = student.key_notebook(nb, "ch.ipynb")
    assert not any("jupyter" in c.metadata for c in key.cells)


@pytest.mark.parametrize(
    "broken, message",
    [
        (lambda cells: cells.pop(10), r"'ex-a'.*cell 6.*no solution-end.*Remedy: add"),
        (lambda cells: cells.pop(14), r"'ex-b'.*cell 12.*no solution-end.*end of the notebook"),
        (lambda cells: cells.pop(6), r"solution-end in cell 9 closes no solution"),
    ],
    ids=["end-missing", "last-end-missing", "start-missing"],
)
def test_a_malformed_solution_names_the_file_and_the_remedy(broken, message):
    nb = _chapter()
    broken(nb.cells)
    for call in (student.student_notebook, student.key_notebook, student.fold_solutions):
        with pytest.raises(InputError, match=r"notebooks/03_x\.ipynb: .*" + message):
            call(nb, "notebooks/03_x.ipynb")


def _checkout(tmp_path: Path, *notebooks) -> Path:
    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    for i, nb in enumerate(notebooks, start=1):
        nbformat.write(nb, root / "notebooks" / f"0{i}_ch.ipynb")
    return root


def test_write_student_edition_writes_both_folders(tmp_path: Path):
    root = _checkout(tmp_path, _chapter(), _chapter())
    out = tmp_path / "class"
    written = student.write_student_edition(out, root=root)
    assert sorted(p.relative_to(out).as_posix() for p in written) == [
        "key/01_ch.ipynb",
        "key/02_ch.ipynb",
        "notebooks/01_ch.ipynb",
        "notebooks/02_ch.ipynb",
    ]
    edition = nbformat.read(out / "notebooks" / "01_ch.ipynb", as_version=4)
    assert len(edition.cells) == 16 - 8
    key = nbformat.read(out / "key" / "02_ch.ipynb", as_version=4)
    assert [c.id for c in key.cells][1:] == [
        "ex-a",
        "sol-a1",
        "sol-a-md",
        "sol-a2",
        "ex-b",
        "sol-b1",
    ]


def test_write_student_edition_refuses_a_folder_that_is_not_empty(tmp_path: Path):
    root = _checkout(tmp_path, _chapter())
    out = tmp_path / "class"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    with pytest.raises(InputError, match=r"class exists and is not empty.*--force"):
        student.write_student_edition(out, root=root)
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    student.write_student_edition(out, root=root, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["key", "mine.txt", "notebooks"]


def test_a_malformed_chapter_stops_the_edition_before_anything_is_written(tmp_path: Path):
    bad = _chapter()
    del bad.cells[14]  # ex-b's solution-end
    root = _checkout(tmp_path, _chapter(), bad)
    out = tmp_path / "class"
    with pytest.raises(InputError, match=r"02_ch\.ipynb: the solution of 'ex-b'"):
        student.write_student_edition(out, root=root)
    assert not out.exists()


def test_a_folder_without_chapters_is_an_error(tmp_path: Path):
    with pytest.raises(InputError, match=r"holds no chapter.*root of a layerwise checkout"):
        student.write_student_edition(tmp_path / "out", root=tmp_path)


# ------------------------------------------------------------------ the command line


def _layerwise(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "layerwise", *args], capture_output=True, text=True, cwd=cwd
    )


def test_student_writes_the_edition_and_refuses_a_folder_in_use(tmp_path):
    out = tmp_path / "class"
    done = _layerwise("student", "--out", str(out), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    n = len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    assert len(list((out / "notebooks").glob("*.ipynb"))) == n == len(list(out.glob("key/*")))
    again = _layerwise("student", "--out", str(out), cwd=ROOT)
    assert again.returncode == 2
    assert again.stderr.startswith(f"error: {out} exists and is not empty") and "--force" in (
        again.stderr
    )
    assert _layerwise("student", "--out", str(out), "--force", cwd=ROOT).returncode == 0


def test_student_fold_folds_the_solutions_of_the_checkout_in_place(tmp_path):
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


# ------------------------------------------------------------------ the committed chapters


def _raw(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    for c in cells:
        c["text"] = "".join(c["source"])
    return cells


def _solutions(cells: list[dict]) -> dict[str, list[int]]:
    """label -> indices of its solution's cells between the markers, read off the JSON."""
    found, label = {}, None
    for i, c in enumerate(cells):
        start = re.match(r"```\{solution-start\}\s*(\S+)", c["text"])
        if start:
            label = start.group(1)
            found[label] = []
        elif c["text"].startswith("```{solution-end}"):
            label = None
        elif label is not None:
            found[label].append(i)
    return found


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_solution_cell_of_a_committed_chapter_is_folded(path: Path):
    cells = _raw(path)
    solutions = _solutions(cells)
    assert solutions, path.name
    unfolded = [
        (label, cells[i]["id"])
        for label, indices in solutions.items()
        for i in indices
        if cells[i]["metadata"].get("jupyter", {}).get("source_hidden") is not True
        or cells[i]["metadata"]["jupyter"].get("outputs_hidden") is not True
    ]
    assert not unfolded, (
        f"{path.name}: solution cells not folded in JupyterLab: {unfolded}. Remedy: "
        "python -m layerwise student --fold"
    )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_exercises_intro_is_true_on_the_website_and_in_jupyterlab(path: Path):
    intro = next(c["text"] for c in _raw(path) if c["text"].startswith("## Exercises"))
    assert "hidden below" not in intro
    for words in ("folded", "dropdown", "JupyterLab", "make student"):
        assert words in intro, (path.name, words)


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("class")
    student.write_student_edition(out, root=ROOT)
    return out


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_committed_chapters_student_edition_and_key(path: Path, edition: Path):
    cells = _raw(path)
    solutions = _solutions(cells)
    labels = re.findall(r"^:label:\s*(ex-\S+)", "\n".join(c["text"] for c in cells), re.M)
    assert sorted(labels) == sorted(solutions)
    mine = _raw(edition / "notebooks" / path.name)
    key = _raw(edition / "key" / path.name)
    # the student edition: the chapter less each solution and its two markers
    n_solution = sum(len(v) + 2 for v in solutions.values())
    assert len(mine) == len(cells) - n_solution
    solution_code = [
        cells[i]["text"] for v in solutions.values() for i in v if cells[i]["cell_type"] == "code"
    ]
    assert solution_code
    shown = {c["text"] for c in mine}
    assert not any(code in shown for code in solution_code)
    assert not any("{solution-" in c["text"] for c in mine)
    for label in labels:  # every statement stays
        assert any(f":label: {label}" in c["text"] for c in mine), label
    params = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
    assert [c for c in mine if "parameters" in c["metadata"].get("tags", [])] == params
    assert 'results_dir = "../results"' in params[0]["text"]
    assert all(not c.get("outputs") for c in mine)
    # the key: every label's statement, then exactly its solution's code
    text = "\n".join(c["text"] for c in key)
    for label in labels:
        assert f":label: {label}" in text, label
    assert [c["text"] for c in key if c["cell_type"] == "code"] == solution_code
    assert "after the chapter's own cells" in key[0]["text"]
