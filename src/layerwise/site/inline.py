"""Inline expressions of a chapter's markdown (the ``{eval}`` role), evaluated as JupyterLab does.

A chapter states its numbers with MyST's ``{eval}`` role: ``{eval}`text.n_pairs```. In
JupyterLab, jupyterlab-myst sends the expressions of a markdown cell to the kernel when the
cell is run (Jupyter's ``user_expressions``, part of an ``execute_request``) and keeps the
results in the cell's metadata, ``user_expressions``: a list of ``{"expression": ...,
"result": ...}``, ``result`` being the kernel's reply (``status``, and ``data`` and
``metadata`` or ``ename`` and ``evalue``).

The book's build does the same while papermill executes a chapter: on reaching a markdown
cell, the expressions are evaluated in the kernel at that point (:func:`user_expressions`)
and the results stored in the same metadata (:func:`stored`); the book then renders each
role from the stored result (:func:`rendering`), and JupyterLab shows the stored numbers
of an executed copy as it shows its own. One mechanism, two readers: a number is the
value its expression has where the reader meets it.

This module holds that mechanism's rules and uses no library's internals; the papermill
engine and the Sphinx role that apply them, the only code that touches papermill's,
nbclient's and myst-nb's internals, are :mod:`layerwise.site.eval_adapter`. myst-nb's own
``{eval}`` role is not used: it evaluates only while myst-nb executes a notebook itself
(``nb_execution_mode: inline``), whereas the book executes its chapters beforehand with
papermill (reused when unchanged, :mod:`layerwise.site.reuse`) and builds with execution
off; ``{glue}`` would need a ``glue()`` call per number in every chapter.

An expression that raises stops the chapter like a failing code cell, naming the
expression and the error.

The same engine reports the build's progress: a long chapter prints one line per section
as execution reaches its heading (:func:`section_headings`, :func:`progress_line`), so the
log shows where the chapter is and how long each part took.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The MyST inline role, ``{eval}`expression```.
EVAL_RE = re.compile(r"\{eval\}`([^`]+)`")
#: The markdown cell's metadata key jupyterlab-myst reads and writes.
METADATA_KEY = "user_expressions"
#: A section heading of a chapter's markdown: ``## `` or ``### `` at a line's start (the
#: chapter's title, ``# ``, is announced by the build itself); closing ``#`` are dropped.
HEADING_RE = re.compile(r"^#{2,3}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
#: A fenced code block's opening or closing line (backticks or tildes, three or more).
FENCE_RE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})")
#: Name under which the engine (:mod:`layerwise.site.eval_adapter`) is registered with
#: papermill.
ENGINE_NAME = "layerwise-inline"


def expressions(markdown: str) -> list[str]:
    """The distinct ``{eval}`` expressions of one markdown source, in order of appearance."""
    return list(dict.fromkeys(m.strip() for m in EVAL_RE.findall(markdown)))


def stored_results(cells: Iterable[dict]) -> dict[str, list[dict]]:
    """expression -> the results stored for it in the ``user_expressions`` metadata of
    ``cells`` (a notebook's cells, as dicts), one per markdown cell that evaluated it."""
    found: dict[str, list[dict]] = {}
    for cell in cells:
        if cell.get("cell_type") != "markdown":
            continue
        for item in cell.get("metadata", {}).get(METADATA_KEY, []) or []:
            found.setdefault(item.get("expression", ""), []).append(item.get("result", {}))
    return found


class ExpressionFailed(Exception):
    """An ``{eval}`` expression of a markdown cell failed in the kernel (an undefined name,
    an exception): ``expression``, and the kernel's ``ename``, ``evalue`` and
    ``traceback``. The papermill engine reports it as a failing cell."""

    def __init__(self, expression: str, result: Mapping[str, Any]) -> None:
        self.expression = expression
        self.ename = str(result.get("ename", "Error"))
        self.evalue = (
            f"in the markdown's inline expression {{eval}}`{expression}`: "
            f"{result.get('evalue', '')}"
        )
        self.traceback = list(result.get("traceback", []))
        super().__init__(f"{self.ename}: {self.evalue}")


def user_expressions(source: str) -> dict[str, str]:
    """The Jupyter ``user_expressions`` to send for a markdown cell of ``source``: a name
    (``"0"``, ``"1"``, ...) -> each distinct ``{eval}`` expression; empty when it has none."""
    return {str(i): expr for i, expr in enumerate(expressions(source))}


def stored(named: Mapping[str, str], results: Mapping[str, Mapping[str, Any]]) -> list[dict]:
    """What the markdown cell stores in its ``user_expressions`` metadata, given ``named``
    (:func:`user_expressions`) and ``results``, the kernel reply's ``user_expressions``
    (name -> result): ``[{"expression": ..., "result": ...}]`` in order of appearance.

    Raises:
        ExpressionFailed: an expression's result is not ``ok``, or it has none.
    """
    out = []
    for key, expr in named.items():
        result = dict(results.get(key, {"status": "error", "ename": "NoReply", "evalue": ""}))
        if result.get("status") != "ok":
            raise ExpressionFailed(expr, result)
        out.append({"expression": expr, "result": result})
    return out


@dataclass(frozen=True)
class Rendering:
    """How the book shows one ``{eval}`` role: ``kind`` ``"text"`` (``text``, shown as
    myst-nb's ``{glue:text}`` shows text: class ``pasted-text``), ``"output"`` (``data``
    and ``metadata``, a Jupyter result rendered by myst-nb) or ``"warning"`` (``text``,
    the message; the strict build fails on it)."""

    kind: str
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)


def rendering(expression: str, found: Mapping[str, list[dict]] | None) -> Rendering:
    """How to show ``{eval}`expression``` given ``found``, the notebook's stored results
    (:func:`stored_results`; ``None`` when the page is not a notebook). A role with no
    stored result, a failed one, or one stored with two different results in one notebook
    is a warning naming the expression and the remedy."""
    expr = expression.strip()
    if found is None:
        return Rendering("warning", f"{{eval}}`{expr}` outside a notebook: nothing evaluated it")
    results = found.get(expr)
    if not results:
        return Rendering(
            "warning",
            f"{{eval}}`{expr}` has no stored result ({METADATA_KEY} metadata): execute the "
            "notebook with papermill's layerwise-inline engine (`make book`) or run it in "
            "JupyterLab with jupyterlab-myst, then build again",
        )
    distinct = {repr(sorted(r.get("data", {}).items())) for r in results}
    if len(distinct) > 1:
        return Rendering(
            "warning",
            f"{{eval}}`{expr}` has {len(distinct)} different results in this notebook; "
            "give each value its own name so that every place shows one value",
        )
    result = results[0]
    if result.get("status") != "ok":
        return Rendering(
            "warning",
            f"{{eval}}`{expr}` failed: {result.get('ename', '')}: {result.get('evalue', '')}",
        )
    data = dict(result.get("data", {}))
    if set(data) == {"text/plain"}:
        return Rendering("text", text=data["text/plain"])
    return Rendering("output", data=data, metadata=dict(result.get("metadata", {})))


def section_headings(markdown: str) -> list[str]:
    """The section headings (``## `` and ``### ``) of one markdown cell's source, in order,
    as their text; lines inside fenced code blocks (a ``# comment`` of a shown snippet)
    are not headings. Empty when the cell has none."""
    found, fence = [], ""
    for line in markdown.splitlines():
        opening = FENCE_RE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = ""
            continue
        if opening:
            fence = opening.group(1)
            continue
        match = HEADING_RE.match(line)
        if match and match.group(1):
            found.append(match.group(1))
    return found


def progress_line(seconds: float, heading: str) -> str:
    """One line of the build log: ``seconds`` since the chapter started (right-aligned, one
    decimal, wide enough for a day) and the section ``heading`` it has reached."""
    return f"    {seconds:7.1f} s  {heading}"
