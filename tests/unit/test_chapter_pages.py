"""What a reader of each chapter sees: the science on the page, the set-up out of the way.

- Each results chapter (3, 4, 5, 7) shows its estimator: at least one visible code cell
  tagged ``estimator`` of at most about ten statements' lines, written with numpy/scipy
  (no call into ``layerwise.stats``, whose arithmetic the cell shows), followed by a cell
  tagged ``estimator-check`` that compares it with the chapter's table through
  ``np.testing.assert_allclose`` (which raises, so the build fails when they disagree).
- Set-up code (imports, the opening ``open_chapter`` call, the parameters, ``ch.write``)
  is at most 15% of the visible code outside the exercises, on the website (cells not
  folded or removed by a tag) and in JupyterLab (cells not collapsed).
- Cross-references read well in JupyterLab: no ``{doc}``, ``{numref}``, ``{ref}`` or
  ``{cite:...}`` role in a chapter (jupyterlab-myst shows them as raw labels or keys);
  each ``[Figure C.N](#name)`` link names the number the book gives that figure.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RESULTS_CHAPTERS = ("03_anisotropy", "04_word_tasks", "05_sts", "07_beyond")
FOLDED_ON_WEBSITE = {"remove-cell", "remove-input", "hide-input", "hide-cell"}
SETUP_SHARE = 0.15
ESTIMATOR_LINES = 12


def _cells(nb: Path) -> list[dict]:
    return json.loads(nb.read_text())["cells"]


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def _before_exercises(cells: list[dict]) -> list[dict]:
    for i, c in enumerate(cells):
        if c["cell_type"] == "markdown" and _src(c).lstrip().startswith("## Exercises"):
            return cells[:i]
    return cells


def _is_setup(node: ast.stmt) -> bool:
    """An import, the opening (``open_chapter``, its unpacking), or writing a result."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return True
    text = ast.unparse(node)
    if "open_chapter(" in text or text.replace(" ", "") == "cfg,models,s,profile=ch":
        return True
    return isinstance(node, ast.Expr) and text.startswith(("ch.write(", "provenance."))


def _lines(source: str) -> tuple[int, int]:
    """(code lines, set-up lines) of a cell: non-blank, non-comment lines of its statements."""
    tree = ast.parse(source)
    text = source.splitlines()

    def counted(a: int, b: int) -> int:
        return sum(1 for ln in text[a - 1 : b] if ln.strip() and not ln.strip().startswith("#"))

    total = counted(1, len(text))
    setup = sum(counted(n.lineno, n.end_lineno) for n in tree.body if _is_setup(n))
    return total, setup


def setup_share(nb: Path, where: str) -> tuple[int, int]:
    """(visible code lines, visible set-up lines) outside the exercises, ``where`` being
    ``website`` (not folded or removed by a tag) or ``jupyterlab`` (not collapsed)."""
    total = setup = 0
    for c in _before_exercises(_cells(nb)):
        if c["cell_type"] != "code":
            continue
        if where == "website" and set(c["metadata"].get("tags", [])) & FOLDED_ON_WEBSITE:
            continue
        if where == "jupyterlab" and c["metadata"].get("jupyter", {}).get("source_hidden"):
            continue
        t, s = _lines(_src(c))
        total, setup = total + t, setup + s
    return total, setup


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("where", ["website", "jupyterlab"])
def test_visible_setup_is_at_most_15_percent_of_the_visible_code(nb, where):
    total, setup = setup_share(nb, where)
    assert total > 0
    assert setup / total <= SETUP_SHARE, f"{nb.stem}, {where}: {setup} of {total} lines"


def test_the_share_counts_imports_and_the_opening_but_not_the_science():
    source = (
        "import numpy as np\nfrom layerwise.site import chapter\n\n"
        "ch = chapter.open_chapter(**chapter.parameters(globals()))\n"
        "cfg, models, s, profile = ch\n# a comment\nx = np.ones(3)\nch.write(x, 'x')\n"
        "y = (\n    x + 1\n)\n"
    )
    assert _lines(source) == (9, 5)


@pytest.mark.parametrize("stem", RESULTS_CHAPTERS)
def test_each_results_chapter_shows_its_estimator_and_checks_it(stem):
    cells = _cells(ROOT / "notebooks" / f"{stem}.ipynb")
    body = _before_exercises(cells)

    def tagged(tag: str) -> list[int]:
        return [i for i, c in enumerate(body) if tag in c["metadata"].get("tags", [])]

    estimators, checks = tagged("estimator"), tagged("estimator-check")
    assert estimators and checks, stem
    for i in estimators:
        c = body[i]
        assert not set(c["metadata"].get("tags", [])) & FOLDED_ON_WEBSITE
        assert not c["metadata"].get("jupyter", {}).get("source_hidden")
        code, _ = _lines(_src(c))
        assert code <= ESTIMATOR_LINES, f"{stem}: an estimator cell of {code} lines"
        assert "stats." not in _src(c).replace("stats.spearmanr", "").replace(
            "stats.pearsonr", ""
        ).replace("stats.rankdata", ""), "the cell shows the arithmetic, not a package call"
    # each check comes after an estimator cell and raises on a disagreement
    assert min(estimators) < min(checks)
    for i in checks:
        assert "np.testing.assert_allclose(" in _src(body[i])


ROLE = re.compile(r"\{(doc|numref|ref|cite:[tp]|cite)\}`")


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_cross_references_read_in_jupyterlab(nb):
    cells = _cells(nb)
    text = "\n".join(_src(c) for c in cells if c["cell_type"] == "markdown")
    assert not ROLE.findall(text), f"{nb.stem}: {sorted(set(ROLE.findall(text)))}"
    # every figure link names the number the book gives it: chapter, then figure order
    chapter = NOTEBOOKS.index(nb) + 1
    numbers = {}
    for c in cells:
        figure = c.get("metadata", {}).get("mystnb", {}).get("figure", {})
        if figure.get("name"):
            numbers[figure["name"]] = f"Figure {chapter}.{len(numbers) + 1}"
    for shown, name in re.findall(r"\[(Figure [\d.]+)\]\(#([\w-]+)\)", text):
        assert numbers.get(name) == shown, (nb.stem, shown, name)
