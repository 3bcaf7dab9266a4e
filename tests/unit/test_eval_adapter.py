"""Tests for layerwise.site.eval_adapter: the one module touching papermill's, nbclient's
and myst-nb's internals for the ``{eval}`` role, and the rules (layerwise.site.inline) it
applies (issue 22: an upgrade of jupyter-book or myst-nb touches one file). The kernel
and the book builds are in tests/book/test_inline.py."""

from __future__ import annotations

import ast
from pathlib import Path
from types import SimpleNamespace

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document

import layerwise
from layerwise.site import eval_adapter, inline

PACKAGE = Path(layerwise.__file__).parent
#: Libraries whose internals the {eval} machinery uses; ``papermill`` itself and
#: ``papermill.exceptions`` are public API (book.py runs notebooks through them).
INTERNALS = ("papermill.", "nbclient", "myst_nb", "myst_parser", "docutils", "sphinx")
PUBLIC = ("papermill.exceptions",)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_only_the_adapter_touches_the_libraries_internals():
    users = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        used = {
            name
            for name in _imports(path)
            if name.startswith(INTERNALS)
            and name not in PUBLIC
            or name.startswith(("jupyter_core.utils",))
        }
        if used:
            users[str(path.relative_to(PACKAGE))] = sorted(used)
    assert list(users) == ["site/eval_adapter.py"], users


def test_the_rules_module_imports_no_library():
    top = {name.split(".")[0] for name in _imports(PACKAGE / "site" / "inline.py")}
    assert top <= {"__future__", "re", "collections", "dataclasses", "typing"}, top


def test_importing_the_adapter_registers_its_papermill_engine():
    from papermill.engines import papermill_engines

    assert eval_adapter.ENGINE_NAME == "layerwise-inline"
    assert papermill_engines.get_engine(eval_adapter.ENGINE_NAME) is eval_adapter.InlineEngine
    assert issubclass(eval_adapter.InlineExpressionError, Exception)


# ---------------------------------------------------------------------------------------------
# what a markdown cell sends and stores
# ---------------------------------------------------------------------------------------------


def test_a_cell_sends_each_distinct_expression_once_and_stores_the_results_in_order():
    named = inline.user_expressions("{eval}`b` then {eval}` a ` and {eval}`b` again")
    assert named == {"0": "b", "1": "a"}
    assert inline.user_expressions("no role, `code` only") == {}
    reply = {
        "1": {"status": "ok", "data": {"text/plain": "2"}, "metadata": {}},
        "0": {"status": "ok", "data": {"text/plain": "'x'"}, "metadata": {}},
    }
    assert inline.stored(named, reply) == [
        {"expression": "b", "result": reply["0"]},
        {"expression": "a", "result": reply["1"]},
    ]


@pytest.mark.parametrize(
    ("reply", "ename", "evalue"),
    [
        (
            {"0": {"status": "error", "ename": "NameError", "evalue": "name 'q' is not defined"}},
            "NameError",
            "name 'q' is not defined",
        ),
        ({}, "NoReply", ""),
    ],
)
def test_a_failed_or_missing_result_names_the_expression(reply, ename, evalue):
    with pytest.raises(inline.ExpressionFailed) as caught:
        inline.stored({"0": "q.n"}, reply)
    err = caught.value
    assert err.expression == "q.n" and err.ename == ename
    assert err.evalue == f"in the markdown's inline expression {{eval}}`q.n`: {evalue}"


# ---------------------------------------------------------------------------------------------
# what the book shows
# ---------------------------------------------------------------------------------------------


def _ok(text: str, **more) -> dict:
    return {"status": "ok", "data": {"text/plain": text, **more}, "metadata": {}}


def test_rendering_rules():
    found = {
        "x": [_ok("42"), _ok("42")],
        "twice": [_ok("1"), _ok("2")],
        "bad": [{"status": "error", "ename": "KeyError", "evalue": "'k'"}],
        "html": [_ok("h", **{"text/html": "<b>h</b>"})],
    }
    assert inline.rendering(" x ", found) == inline.Rendering("text", text="42")
    html = inline.rendering("html", found)
    assert html.kind == "output" and html.data == {"text/plain": "h", "text/html": "<b>h</b>"}
    for expr, words in [
        ("twice", "2 different results"),
        ("bad", "failed: KeyError: 'k'"),
        ("nope", "has no stored result (user_expressions metadata)"),
    ]:
        shown = inline.rendering(expr, found)
        assert shown.kind == "warning" and f"{{eval}}`{expr}` " in shown.text
        assert words in shown.text
    assert "outside a notebook" in inline.rendering("x", None).text


def _role(text: str, cells: list[dict] | None):
    """Run the adapter's role on ``{eval}`text``` in a docutils document whose myst-nb
    renderer holds a notebook of ``cells`` (no renderer: ``cells`` None)."""
    settings = get_default_settings(Parser)
    settings.report_level = 5  # warnings are returned, not printed
    document = new_document("page.md", settings)
    if cells is not None:
        client = SimpleNamespace(notebook={"cells": cells})
        document["nb_renderer"] = SimpleNamespace(renderer=SimpleNamespace(nb_client=client))
    document.reporter.get_source_and_line = lambda line: ("page.md", line)  # a parser sets it
    inliner = SimpleNamespace(document=document, reporter=document.reporter)
    return eval_adapter.StoredEvalRole()("eval", f"{{eval}}`{text}`", text, 1, inliner)


def test_the_role_shows_a_stored_text_as_pasted_text():
    cell = {
        "cell_type": "markdown",
        "metadata": {"user_expressions": [{"expression": "x", "result": _ok("42")}]},
    }
    shown, messages = _role("x", [{"cell_type": "code", "metadata": {}}, cell])
    assert messages == []
    assert len(shown) == 1 and isinstance(shown[0], nodes.inline)
    assert shown[0].astext() == "42" and shown[0]["classes"] == ["pasted-text"]


def test_the_role_warns_for_a_missing_result_and_outside_a_notebook():
    shown, messages = _role("x", [{"cell_type": "markdown", "metadata": {}}])
    assert shown == [] and len(messages) == 1
    assert "{eval}`x` has no stored result" in messages[0].astext()
    shown, messages = _role("x", None)
    assert shown == [] and "outside a notebook" in messages[0].astext()


# ---------------------------------------------------------------------------------------------
# the build's progress: one line per section heading (issue 23)
# ---------------------------------------------------------------------------------------------


def test_the_sections_of_a_markdown_cell_are_its_level_2_and_3_headings():
    source = "\n".join(
        [
            "# The chapter's title",
            "## Scores in every layer ##",
            "text with a # sign and ## inside a line",
            "```python",
            "## a comment of a shown snippet",
            "```",
            "~~~~",
            "### still code ```",
            "~~~~",
            "### Table 1: `word_tasks`",
            "#### too deep",
            "##no space",
        ]
    )
    assert inline.section_headings(source) == ["Scores in every layer", "Table 1: `word_tasks`"]
    assert inline.section_headings("plain text, {eval}`x`") == []


def test_a_progress_line_right_aligns_the_seconds_before_the_heading():
    assert inline.progress_line(3.14159, "Prerequisites") == "        3.1 s  Prerequisites"
    assert inline.progress_line(1234.56, "Table 1") == "     1234.6 s  Table 1"
    # the seconds column ends at the same place for a second and for a day
    ends = {inline.progress_line(s, "x").index(" s  x") for s in (0.0, 59.9, 86399.9)}
    assert len(ends) == 1


def test_the_books_progress_prints_one_flushed_line_per_heading_since_the_start():
    import time

    from layerwise.site.book import section_progress

    written = []
    show = section_progress(time.perf_counter() - 2.0, write=lambda *a, **k: written.append((a, k)))
    show("## First\ntext\n### Second")
    show("no heading")
    assert [k for _, k in written] == [{"flush": True}] * 2
    lines = [a[0] for a, _ in written]
    assert [line.split(" s  ")[1] for line in lines] == ["First", "Second"]
    seconds = [float(line.split(" s  ")[0]) for line in lines]
    assert all(2.0 <= s < 60.0 for s in seconds)
