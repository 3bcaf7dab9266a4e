"""The chapters for a class: a student edition without the solutions, a teacher's key with
only them, and the solutions folded in the committed notebooks.

An exercise is a markdown cell holding a sphinx-exercise fence, ```` ```{exercise} ````
with a ``:label:``; its solution is the gated form that follows it: a markdown cell
```` ```{solution-start} <label> ````, the solution's cells (code and markdown), and a
markdown cell ```` ```{solution-end} ````. The website folds each solution in a dropdown
(``:class: dropdown``); :func:`fold_solutions` sets the cell metadata that makes
JupyterLab show the solution's cells collapsed too.

:func:`write_student_edition` (``python -m layerwise student --out DIR``, ``make
student``) writes, for every chapter ``notebooks/NN_*.ipynb``:

- ``DIR/notebooks/NN_*.ipynb``, the student edition: the chapter without its solutions
  (every cell from a ``solution-start`` through its ``solution-end``), the "## Exercises"
  introduction saying so, no outputs. The parameters cell is the chapter's own, so the
  notebook runs from ``DIR/notebooks`` as from ``notebooks/`` (its results go to
  ``DIR/results``);
- ``DIR/key/NN_*.ipynb``, the teacher's key: each exercise followed by its solution's
  cells, which run after the chapter's own cells (they use its variables).

Part of the book's teaching material (the Teaching page, ``book/teaching.md``).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, OutputError

#: A directive fence that opens a markdown cell's line: the exercise or a solution marker.
DIRECTIVE_RE = re.compile(r"^```\{(exercise|solution-start|solution-end)\}[ \t]*(.*)$", re.M)
LABEL_RE = re.compile(r"^:label:[ \t]*(\S+)[ \t]*$", re.M)
#: The cell metadata that makes JupyterLab show a cell collapsed (input and outputs).
FOLDED = {"source_hidden": True, "outputs_hidden": True}
#: The heading that opens each chapter's block of exercises.
EXERCISES_HEADING = "## Exercises"
#: What the student edition says about the solutions, in place of the chapter's own words.
STUDENT_NOTE = (
    "This is the student edition of the chapter (`make student`): the worked solutions are "
    "left out. Your teacher has them, in the key written beside this folder."
)
KEY_INTRO = """# Key: {title}

The worked solutions of the exercises of `{name}`, each after its exercise. The solutions
run after the chapter's own cells, whose variables they use: execute the chapter first (its
student edition, `notebooks/{name}`, with the class's parameters), then paste a solution's
cells at the end of the executed chapter, or run them in its kernel. Each solution needs
only the chapter's own cells, not the other solutions."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of a chapter: its ``label``, the index of its statement cell
    (``None`` when only the solution names the label) and the indices of its solution's
    ``solution-start`` and ``solution-end`` cells (``None`` when it has no solution)."""

    label: str
    statement: int | None
    start: int | None
    end: int | None

    def solution_cells(self) -> range:
        """Indices of the solution's own cells, between its two markers."""
        if self.start is None or self.end is None:
            return range(0)
        return range(self.start + 1, self.end)


def _source(cell) -> str:
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def _directive(cell, path: Path, index: int) -> tuple[str, str] | None:
    """(directive, label) of a markdown cell that holds an exercise or a solution marker."""
    if cell.get("cell_type") != "markdown":
        return None
    text = _source(cell)
    found = DIRECTIVE_RE.findall(text)
    if not found:
        return None
    if len(found) > 1:
        raise InputError(
            f"{path}: cell {index} ({cell.get('id', '?')}) holds {len(found)} exercise or "
            "solution directives. Remedy: put each exercise, solution-start and solution-end "
            "in a markdown cell of its own."
        )
    name, argument = found[0]
    if name == "exercise":
        labels = LABEL_RE.findall(text)
        if len(labels) != 1:
            raise InputError(
                f"{path}: the exercise in cell {index} ({cell.get('id', '?')}) has "
                f"{len(labels)} :label: lines. Remedy: give it exactly one, "
                "e.g. ':label: ex-chapter-topic'."
            )
        return name, labels[0]
    return name, argument.strip()


def exercises(nb, path: str | Path = "<notebook>") -> list[Exercise]:
    """The exercises of notebook ``nb`` (an ``nbformat`` notebook or its JSON as a dict),
    in order. ``path`` names the notebook in errors.

    Raises :class:`~layerwise.errors.InputError` naming the file, the cell and the remedy
    for a ``solution-start`` without its ``solution-end`` (or the reverse), one inside
    another solution, a ``solution-start`` without a label, an exercise without one
    ``:label:``, and a label used twice.
    """
    path = Path(path)
    statements: dict[str, int] = {}
    solutions: dict[str, tuple[int, int]] = {}
    order: list[str] = []
    open_label, open_at = None, None
    for i, cell in enumerate(nb["cells"]):
        found = _directive(cell, path, i)
        if found is None:
            continue
        name, label = found
        if name == "exercise":
            if open_label is not None:
                raise _unclosed(path, open_label, open_at, f"an exercise (cell {i})")
            if label in statements:
                raise InputError(
                    f"{path}: exercise label {label!r} is used twice (cells "
                    f"{statements[label]} and {i}). Remedy: give each exercise its own label."
                )
            statements[label] = i
            order.append(label)
        elif name == "solution-start":
            if open_label is not None:
                raise _unclosed(path, open_label, open_at, f"another solution-start (cell {i})")
            if not label:
                raise InputError(
                    f"{path}: the solution-start in cell {i} names no exercise. Remedy: write "
                    "the exercise's label after it: ```{solution-start} ex-chapter-topic"
                )
            if label in solutions:
                raise InputError(
                    f"{path}: exercise {label!r} has two solutions (cells "
                    f"{solutions[label][0]} and {i}). Remedy: keep one."
                )
            open_label, open_at = label, i
            if label not in statements:
                order.append(label)
        else:  # solution-end
            if open_label is None:
                raise InputError(
                    f"{path}: the solution-end in cell {i} closes no solution. Remedy: remove "
                    "it, or add the markdown cell ```{solution-start} <label> before the "
                    "solution's first cell."
                )
            solutions[open_label] = (open_at, i)
            open_label, open_at = None, None
    if open_label is not None:
        raise _unclosed(path, open_label, open_at, "the end of the notebook")
    return [
        Exercise(label, statements.get(label), *solutions.get(label, (None, None)))
        for label in order
    ]


def _unclosed(path: Path, label: str, start: int, reached: str) -> InputError:
    return InputError(
        f"{path}: the solution of {label!r} (solution-start in cell {start}) has no "
        f"solution-end before {reached}. Remedy: add a markdown cell holding ```{{solution-end}}"
        " (closed by a second ``` line) after the solution's last cell."
    )


def solution_cell_indices(nb, path: str | Path = "<notebook>") -> list[int]:
    """Indices of every cell of every solution of ``nb``, its two markers included."""
    return [
        i for ex in exercises(nb, path) if ex.start is not None for i in range(ex.start, ex.end + 1)
    ]


def fold_solutions(nb, path: str | Path = "<notebook>") -> int:
    """Fold the cells of every solution of ``nb`` in place (code and markdown, between its
    two markers): cell metadata ``"jupyter": {"source_hidden": true, "outputs_hidden":
    true}``, which JupyterLab shows as a collapsed bar (click it to open the cell). The
    ``solution-start`` marker stays visible, as the solution's caption. Idempotent; returns
    the number of cells changed. Errors as :func:`exercises`."""
    changed = 0
    for i in (i for ex in exercises(nb, path) for i in ex.solution_cells()):
        meta = nb["cells"][i].setdefault("metadata", {})
        jupyter = meta.setdefault("jupyter", {})
        if any(jupyter.get(k) is not v for k, v in FOLDED.items()):
            jupyter.update(FOLDED)
            changed += 1
    return changed


def _strip_outputs(cell) -> None:
    if cell.get("cell_type") == "code":
        cell["outputs"] = []
        cell["execution_count"] = None


def student_intro(text: str) -> str:
    """The "## Exercises" cell's text for the student edition: its paragraphs that do not
    mention a solution, then :data:`STUDENT_NOTE`."""
    kept = [p for p in re.split(r"\n[ \t]*\n", text.strip()) if "solution" not in p.lower()]
    return "\n\n".join([*kept, STUDENT_NOTE])


def student_notebook(nb, path: str | Path = "<notebook>"):
    """A copy of chapter ``nb`` for students: every solution removed (each cell from its
    ``solution-start`` through its ``solution-end``), the exercise statements kept, the
    "## Exercises" cell rewritten by :func:`student_intro`, outputs and execution counts
    cleared. Errors as :func:`exercises` (checked before anything is copied)."""
    drop = set(solution_cell_indices(nb, path))
    out = copy.deepcopy(nb)
    cells = []
    for i, cell in enumerate(out["cells"]):
        if i in drop:
            continue
        _strip_outputs(cell)
        if cell.get("cell_type") == "markdown" and _source(cell).startswith(EXERCISES_HEADING):
            cell["source"] = student_intro(_source(cell))
        cells.append(cell)
    out["cells"] = cells
    return out


def _title(nb) -> str:
    for cell in nb["cells"]:
        if cell.get("cell_type") == "markdown":
            for line in _source(cell).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "the chapter"


def key_notebook(nb, path: str | Path = "<notebook>"):
    """The teacher's key of chapter ``nb``: a first markdown cell saying that the solutions
    run after the chapter's own cells, then each exercise's statement followed by its
    solution's cells (without the two markers, unfolded, outputs cleared). Errors as
    :func:`exercises`."""
    import nbformat

    path = Path(path)
    found = exercises(nb, path)
    out = copy.deepcopy(nb)
    cells = [nbformat.v4.new_markdown_cell(KEY_INTRO.format(title=_title(nb), name=path.name))]
    cells[0]["id"] = "key-intro"
    for ex in found:
        picked = ([ex.statement] if ex.statement is not None else []) + list(ex.solution_cells())
        for i in picked:
            cell = out["cells"][i]
            _strip_outputs(cell)
            meta = cell.get("metadata", {})
            jupyter = meta.get("jupyter", {})
            for k in FOLDED:
                jupyter.pop(k, None)
            if "jupyter" in meta and not jupyter:
                del meta["jupyter"]
            cells.append(cell)
    out["cells"] = cells
    return out


def chapters(root: str | Path) -> list[Path]:
    """The chapters ``root/notebooks/NN_*.ipynb``, in order. Raises
    :class:`~layerwise.errors.InputError` when there is none."""
    paths = sorted(Path(root, "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise InputError(
            f"{Path(root, 'notebooks')} holds no chapter (NN_*.ipynb). Remedy: run the "
            "command from the root of a layerwise checkout."
        )
    return paths


def write_student_edition(
    out: str | Path, root: str | Path | None = None, force: bool = False
) -> list[Path]:
    """Write the student edition (``out/notebooks``) and the teacher's key (``out/key``) of
    every chapter of the checkout ``root`` (default: the working directory); returns the
    files written.

    Every chapter is read and checked before anything is written. Raises
    :class:`~layerwise.errors.InputError` for ``root`` without chapters, a chapter that is
    not a readable notebook or whose solutions are malformed (:func:`exercises`), and for an
    ``out`` that exists and is not an empty folder unless ``force`` (which replaces the
    ``notebooks`` and ``key`` folders inside it and keeps the rest, e.g. ``results``);
    :class:`~layerwise.errors.OutputError` when ``out`` cannot be written.
    """
    import shutil

    import nbformat

    root = Path(root or Path.cwd())
    out = Path(out)
    paths = chapters(root)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a folder. Remedy: choose another --out.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(
            f"{out} exists and is not empty. Remedy: choose another --out, or pass --force "
            f"(make student: FORCE=1) to replace its notebooks/ and key/ folders (anything "
            "else in it, e.g. results/, is kept)."
        )
    editions = []
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
        except Exception as err:  # nbformat raises several kinds for a bad file
            raise InputError(
                f"{path} is not a readable notebook ({type(err).__name__}: {err}). Remedy: "
                "restore it from git (git checkout -- FILE)."
            ) from err
        editions.append((path.name, student_notebook(nb, path), key_notebook(nb, path)))
    written = []
    try:
        for sub in ("notebooks", "key"):
            shutil.rmtree(out / sub, ignore_errors=True)
            (out / sub).mkdir(parents=True)
        for name, student, key in editions:
            for sub, nb in (("notebooks", student), ("key", key)):
                target = out / sub / name
                nbformat.write(nb, target)
                written.append(target)
    except OSError as err:
        raise OutputError(
            f"cannot write the student edition to {err.filename or out} "
            f"({err.strerror or err}). Remedy: choose a writable --out or free disk space."
        ) from err
    return written


def fold_files(paths: list[str | Path]) -> list[Path]:
    """Fold the solutions (:func:`fold_solutions`) of each notebook file in ``paths`` in
    place; returns the files that changed (the others are not rewritten)."""
    import nbformat

    changed = []
    for path in map(Path, paths):
        nb = nbformat.read(path, as_version=4)
        if fold_solutions(nb, path):
            nbformat.write(nb, path)
            changed.append(path)
    return changed
