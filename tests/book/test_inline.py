"""Inline expressions: evaluated where the markdown cell stands (papermill's layerwise-inline
engine, as jupyterlab-myst does in JupyterLab), stored in the cell's metadata, and rendered
by the book from that metadata (layerwise.site.eval_adapter) under the strict build."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from layerwise.site import eval_adapter, inline
from layerwise.site.book import chapter_error


def _notebook(path: Path, cells: list[tuple[str, str]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    new = {"md": nbformat.v4.new_markdown_cell, "code": nbformat.v4.new_code_cell}
    nb.cells = [new[kind](source) for kind, source in cells]
    nbformat.write(nb, path)
    return path


def _execute(src: Path, out: Path) -> dict:
    import papermill

    papermill.execute_notebook(
        str(src),
        str(out),
        engine_name=eval_adapter.ENGINE_NAME,
        progress_bar=False,
        kernel_name="python3",
    )
    return nbformat.read(out, as_version=4)


def test_expressions_are_read_in_order_without_repeats():
    md = "a {eval}`text.a` b {eval}` x + 1 ` c {eval}`text.a` and {glue:text}`old`"
    assert inline.expressions(md) == ["text.a", "x + 1"]
    assert inline.expressions("no roles here, `code` only") == []


def test_each_cell_is_evaluated_where_it_stands(tmp_path):
    src = _notebook(
        tmp_path / "nb.ipynb",
        [
            (
                "code",
                "from layerwise.report.prose import Prose\nx = 1\ntext = Prose(a='.73 (layer 4)')",
            ),
            ("md", "x is {eval}`x`, the text {eval}`text.a`"),
            ("code", "x = 2"),
            ("md", "now x is {eval}`x`"),
            ("md", "plain markdown"),
        ],
    )
    nb = _execute(src, tmp_path / "out.ipynb")
    first, second, plain = (nb.cells[i].metadata for i in (1, 3, 4))
    assert [e["expression"] for e in first["user_expressions"]] == ["x", "text.a"]
    assert [e["result"]["data"]["text/plain"] for e in first["user_expressions"]] == [
        "1",
        ".73 (layer 4)",  # a Phrase shows without a string's quotes
    ]
    assert second["user_expressions"][0]["result"]["data"]["text/plain"] == "2"
    assert all(e["result"]["status"] == "ok" for e in first["user_expressions"])
    assert "user_expressions" not in plain
    assert inline.stored_results(nb.cells)["x"] == [
        first["user_expressions"][0]["result"],
        second["user_expressions"][0]["result"],
    ]


def test_an_expression_that_fails_stops_the_chapter_and_names_it(tmp_path):
    from papermill.exceptions import PapermillExecutionError

    src = _notebook(
        tmp_path / "nb.ipynb",
        [("md", "too early: {eval}`text.n_pairs`"), ("code", "text = None")],
    )
    with pytest.raises(PapermillExecutionError) as caught:
        _execute(src, tmp_path / "out.ipynb")
    line = str(chapter_error("notebooks/nb.ipynb", caught.value, tmp_path / "logs"))
    assert "NameError" in line
    assert "{eval}`text.n_pairs`" in line
    assert "notebooks/nb.ipynb" in line


def _build(folder: Path) -> subprocess.CompletedProcess:
    (folder / "_config.yml").write_text(
        "title: t\nexecute:\n  execute_notebooks: 'off'\n"
        "sphinx:\n  extra_extensions:\n    - layerwise.site.eval_adapter\n"
    )
    (folder / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    jb = Path(sys.executable).parent / "jupyter-book"
    return subprocess.run(
        [str(jb), "build", str(folder), "-n", "-W", "--keep-going"],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_book_renders_the_stored_results_and_fails_on_a_missing_one(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    _execute(
        _notebook(
            tmp_path / "nb.ipynb",
            [("code", "x = 41 + 1"), ("md", "# Page\n\nThe answer is {eval}`x`.")],
        ),
        good / "page.ipynb",
    )
    done = _build(good)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = (good / "_build" / "html" / "page.html").read_text()
    assert 'The answer is <span class="pasted-text">42</span>.' in html

    bad = tmp_path / "bad"
    bad.mkdir()
    nb = nbformat.read(good / "page.ipynb", as_version=4)
    nb.cells[1].metadata.pop("user_expressions")  # never evaluated
    nbformat.write(nb, bad / "page.ipynb")
    done = _build(bad)
    assert done.returncode != 0
    assert "{eval}`x` has no stored result" in done.stdout + done.stderr


def test_the_engine_reports_each_section_as_execution_reaches_it(tmp_path, capsys):
    """A long chapter shows where it is in the build log: one line per ``##``/``###``
    heading, with the seconds since the chapter started; none per code cell (issue 23)."""
    import time

    import papermill

    from layerwise.site.book import section_progress

    src = _notebook(
        tmp_path / "nb.ipynb",
        [
            ("md", "# Title\n\nintroduction"),
            ("code", "## a comment, not a section\nx = 1"),
            ("md", "## First part\n\nx is {eval}`x`"),
            ("code", "import time\ntime.sleep(1.0)"),
            ("md", "### Second part"),
            ("code", "x = 2"),
        ],
    )
    start = time.perf_counter()
    papermill.execute_notebook(
        str(src),
        str(tmp_path / "out.ipynb"),
        engine_name=eval_adapter.ENGINE_NAME,
        progress_bar=False,
        kernel_name="python3",
        progress=section_progress(start),
    )
    total = time.perf_counter() - start
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [line.split(" s  ", 1)[1] for line in lines] == ["First part", "Second part"]
    assert all(
        line == inline.progress_line(float(line.split()[0]), line.split(" s  ", 1)[1])
        for line in lines
    )
    first, second = (float(line.split()[0]) for line in lines)
    assert 0 < first and second - first >= 0.9 and second <= total  # the sleep lies between
    # without ``progress`` the engine prints nothing
    _execute(src, tmp_path / "quiet.ipynb")
    assert capsys.readouterr().out.strip() == ""
