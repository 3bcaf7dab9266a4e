"""Every exercise works as written from a fresh kernel, and the student edition executes.

For each chapter, the student edition (:mod:`layerwise.site.student`: the chapter without
its solutions) is written to a temporary folder and run from its ``notebooks/`` folder, as
a class runs it, on the ``tiny`` profile at reduced scale (the results go to the edition's
own ``results/``, through the parameters cell's relative ``results_dir``). Cells are
appended to it: the first keeps the namespace the chapter's own cells left, and then one
cell per exercise runs that exercise's solution (its code cells, in order, taken from the
committed chapter) in a fresh copy of that namespace. So a solution that needs a name only
another solution defines, or a module the chapter never imported, fails, and the failure
names the exercise.

The extraction cache is the default one ($LAYERWISE_CACHE, else this checkout's
``.cache/layerwise``): extractions the book or an earlier run made are reused. About 0.5
to 3 minutes a chapter on 2 busy cores with a warm cache.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
KEEP = "_chapter_ns = dict(globals())  # the namespace the chapter's own cells left"
SOLUTION = """# exercise {label}
_solution_ns = dict(_chapter_ns)
for _k, _code in enumerate({codes!r}):
    exec(compile(_code, f"<solution {label}, cell {{_k + 1}}>", "exec"), _solution_ns)
"""


@pytest.fixture(scope="module")
def edition(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from layerwise.site import student

    out = tmp_path_factory.mktemp("student")
    student.write_student_edition(out, root=ROOT)
    return out


def _with_solutions(chapter: Path, student_copy: Path):
    """The student edition ``student_copy`` with the cells that run each solution of the
    committed ``chapter``; returns (notebook, {cell index: label})."""
    import nbformat

    from layerwise.site import student

    committed = nbformat.read(chapter, as_version=4)
    nb = nbformat.read(student_copy, as_version=4)
    # independent of the edition's own code: no solution cell is left in it
    assert not any("{solution-start}" in c.source for c in nb.cells), student_copy
    nb.cells.append(nbformat.v4.new_code_cell(KEEP))
    labels: dict[int, str] = {}
    for ex in student.exercises(committed, chapter):
        codes = [
            committed.cells[i].source
            for i in ex.solution_cells()
            if committed.cells[i].cell_type == "code"
        ]
        assert codes, f"{chapter.name}: the solution of {ex.label} has no code cell"
        labels[len(nb.cells)] = ex.label
        nb.cells.append(nbformat.v4.new_code_cell(SOLUTION.format(label=ex.label, codes=codes)))
    return nb, labels


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_edition_runs_and_each_solution_works_after_the_chapter(
    chapter: Path, edition: Path, monkeypatch: pytest.MonkeyPatch
):
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    nb, labels = _with_solutions(chapter, edition / "notebooks" / chapter.name)
    assert labels, f"{chapter.name} has no exercise"
    source = edition / "run" / chapter.name
    source.parent.mkdir(exist_ok=True)
    nbformat.write(nb, source)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    cache = os.environ.get("LAYERWISE_CACHE") or str(ROOT / ".cache" / "layerwise")
    before = set(edition.rglob("*.csv"))
    try:
        papermill.execute_notebook(
            str(source),
            str(source.with_suffix(".out.ipynb")),
            parameters={"profile": "tiny", "scale": "reduced", "cache_dir": cache},
            cwd=str(edition / "notebooks"),  # where a student runs it
            progress_bar=False,
            kernel_name="python3",
            config=Config({"KernelManager": {"transport": "ipc"}}),
        )
    except PapermillExecutionError as err:
        # papermill inserted its injected-parameters cell after the parameters cell
        index = err.cell_index - 1
        where = (
            f"the solution of exercise {labels[index]}"
            if index in labels
            else f"the student edition's own cell {index} (exec count {err.exec_count})"
        )
        pytest.fail(
            f"{chapter.name}: {where} failed from a fresh kernel: {err.ename}: "
            f"{' '.join(str(err.evalue).split())[:300]}",
            pytrace=False,
        )
    # the parameters cell's relative results_dir, from the edition's notebooks/ folder
    written = set(edition.rglob("*.csv")) - before
    assert all(p.is_relative_to(edition / "results" / "tiny") for p in written), written
    if re.search(r"write_table\(|ch\.write\(", chapter.read_text()):
        assert written, f"{chapter.name} wrote no table to {edition / 'results'}"
