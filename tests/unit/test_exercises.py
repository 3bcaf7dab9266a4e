"""The chapters' exercises: each chapter ends with two to four, each with a worked solution
that the book executes and hides, and the teacher's page lists them all.

An exercise is a markdown cell with a sphinx-exercise directive (a ```{exercise} fence with
a ``:label:``); its solution is the gated form: a markdown cell ```{solution-start} <label>``,
the solution's cells (at least one code cell, which the book build executes) and a markdown
cell ```{solution-end}``. The block of exercises opens with "## Exercises" and sits between
the chapter's "## Summary" and its "## References".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TEACHING = ROOT / "book" / "teaching.md"
DIRECTIVE = re.compile(r"^```\{(exercise|solution-start|solution-end)\}[ \t]*(.*)$", re.M)
LABEL = re.compile(r"^:label:[ \t]*(\S+)[ \t]*$", re.M)


def _cells(path: Path) -> list[tuple[str, str]]:
    nb = json.loads(path.read_text())
    return [(c["cell_type"], "".join(c["source"])) for c in nb["cells"]]


def _events(cells: list[tuple[str, str]]) -> list[tuple[int, str, str]]:
    """(cell index, directive, label) for every exercise directive, in order; code cells
    appear as (index, "code", "")."""
    out = []
    for i, (kind, text) in enumerate(cells):
        if kind == "code":
            out.append((i, "code", ""))
            continue
        found = DIRECTIVE.findall(text)
        assert len(found) <= 1, f"cell {i}: one exercise directive per cell"
        for name, argument in found:
            label = argument.strip()
            if name == "exercise":
                labels = LABEL.findall(text)
                assert len(labels) == 1, f"cell {i}: an exercise needs one :label:"
                label = labels[0]
            out.append((i, name, label))
    return out


def _exercises(path: Path) -> list[dict]:
    """Each exercise of a chapter: its label, cell indices and the code cells of its solution."""
    events = _events(_cells(path))
    found, current = [], None
    for i, name, label in events:
        if name == "exercise":
            assert current is None, f"{path.name}: exercise {label} opens inside another"
            current = {"label": label, "exercise": i, "start": None, "end": None, "code": 0}
        elif name == "solution-start":
            assert current is not None, f"{path.name}: solution {label} without an exercise"
            assert current["start"] is None, f"{path.name}: two solutions for {label}"
            assert label == current["label"], f"{path.name}: solution {label} after {current}"
            current["start"] = i
        elif name == "solution-end":
            assert current is not None and current["start"] is not None, path.name
            current["end"] = i
            found.append(current)
            current = None
        elif current is not None:  # a code cell
            assert current["start"] is not None, (
                f"{path.name}: a code cell between exercise {current['label']} and its solution"
            )
            current["code"] += 1
    assert current is None, f"{path.name}: exercise {current} has no solution-end"
    return found


def _all_labels() -> list[str]:
    return [ex["label"] for path in NOTEBOOKS for ex in _exercises(path)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_chapter_ends_with_two_to_four_solved_exercises(path: Path):
    exercises = _exercises(path)
    assert 2 <= len(exercises) <= 4, f"{path.name}: {len(exercises)} exercises"
    for ex in exercises:
        assert ex["code"] >= 1, f"{ex['label']}: the solution needs a code cell the book runs"
        assert ex["start"] == ex["exercise"] + 1, f"{ex['label']}: the solution follows it"
    cells = _cells(path)
    for ex in exercises:  # the book hides each solution in a dropdown
        assert ":class: dropdown" in cells[ex["start"]][1], ex["label"]
    # one contiguous block between "## Summary" and "## References"
    heading = [
        i for i, (k, t) in enumerate(cells) if k == "markdown" and t.startswith("## Exercises")
    ]
    assert len(heading) == 1, f"{path.name}: one '## Exercises' cell"
    first, last = heading[0], exercises[-1]["end"]
    assert first < exercises[0]["exercise"]
    summary = max(i for i, (_, t) in enumerate(cells) if "## Summary" in t)
    references = [i for i, (_, t) in enumerate(cells) if "## References" in t]
    assert summary < first and references == [last + 1] == [len(cells) - 1], path.name
    assert cells[references[0]][1].startswith("## References")
    between = [t for _, t in cells[first + 1 : last + 1]]
    assert not any(re.search(r"^#{1,2} ", t, re.M) for t in between), "no chapter section inside"


def test_exercise_labels_are_unique_and_named_by_chapter():
    labels = _all_labels()
    assert len(labels) == len(set(labels))
    for label in labels:
        assert re.fullmatch(r"ex-[a-z]+(-[a-z0-9]+)+", label), label


def test_the_teachers_page_names_every_exercise():
    page = TEACHING.read_text()
    for label in _all_labels():
        assert f"{{ref}}`{label}`" in page, label
    referenced = set(re.findall(r"\{ref\}`(ex-[a-z0-9-]+)`", page))
    assert referenced == set(_all_labels())
