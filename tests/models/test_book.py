"""site.book: a chapter that fails, or a build folder that cannot be made, is one line
naming it (papermill is replaced by a stub: nothing is executed); every chapter declares
and passes on each parameter the book gives it."""

from __future__ import annotations

import os

import pytest
from support import one_line

from layerwise.errors import (
    LayerwiseError,
    OutputError,
)
from layerwise.pipeline.config import RunConfig


def test_a_chapter_that_raises_is_one_line_with_its_traceback_in_a_log(tmp_path, monkeypatch):
    """Used to: papermill's PapermillExecutionError, a screenful of traceback with the
    chapter named only by the "executing ..." line printed before it."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from layerwise.site import book

    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n- file: notebooks/03_x\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(notebook, root / "notebooks" / "03_x.ipynb")

    def raising(*args, **kwargs):
        raise PapermillExecutionError(
            cell_index=2,
            exec_count=4,
            source="scores = compute()\n1 / 0",
            ename="ZeroDivisionError",
            evalue="division by zero",
            traceback=["\x1b[0;31mZeroDivisionError\x1b[0m", "Traceback: line 2 in <cell>"],
        )

    monkeypatch.setattr(papermill, "execute_notebook", raising)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    cfg = RunConfig(profile="tiny", scale="reduced", device="cpu")
    with pytest.raises(LayerwiseError) as err:
        book.execute_notebooks(cfg, root, root / "_build" / "src")
    assert isinstance(err.value, book.ChapterError)
    message = one_line(err.value)
    log = root / "_build" / "logs" / "03_x.log"
    assert "chapter notebooks/03_x.ipynb" in message and "cell [4]" in message
    assert "'scores = compute()'" in message
    assert "ZeroDivisionError: division by zero" in message and str(log) in message
    kept = log.read_text()
    assert "Traceback: line 2 in <cell>" in kept and "\x1b[" not in kept


def test_an_unwritable_build_folder_is_one_line(tmp_path, monkeypatch):
    """Used to: an OSError traceback from ``mkdir`` of ``_build/src``."""
    from layerwise.site import book

    root = tmp_path / "repo"
    root.mkdir()
    (root / "_toc.yml").write_text("root: intro\n")
    (root / "_build").write_text("a file where the build folder goes")
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # build_book prepends to it
    cfg = RunConfig(
        profile="tiny",
        scale="reduced",
        device="cpu",
        results_dir=str(tmp_path / "results"),
        cache_dir=str(tmp_path / "cache"),
    )
    with pytest.raises(OutputError) as err:
        book.build_book(cfg, root)
    message = one_line(err.value)
    assert "build folder" in message and str(root / "_build") in message
    assert "Remedy" in message


def test_every_chapter_declares_and_passes_on_each_parameter_the_book_gives_it(tmp_path):
    """A parameter papermill injects but a chapter never reads would be silently ignored
    (``--dtype`` was, before): each chapter's ``parameters`` cell declares exactly the
    book's parameters, its ``open_chapter`` call passes each by name, and the text forms
    of the book's parameters read back to the run's configuration."""
    import ast
    import json
    from pathlib import Path

    from layerwise.site.book import chapter_parameters, notebook_order

    root = Path(__file__).resolve().parents[2]
    cfg = RunConfig(
        profile="tiny", dtype="float16", device_map="sequential", max_memory={"0": "9GiB"}
    )
    params = chapter_parameters(cfg, root)
    notebooks = notebook_order(root)
    assert len(notebooks) == 7
    for nb in notebooks:
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        declared = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
        assert len(declared) == 1, nb.name
        names = {
            t.id
            for node in ast.parse("".join(declared[0]["source"])).body
            for t in node.targets  # type: ignore[attr-defined]
        }
        assert names == set(params), nb.name
        # papermill reads each of them too (it cannot read a comment holding "=")
        from papermill.translators import PythonTranslator

        read = PythonTranslator.inspect({"source": "".join(declared[0]["source"])})
        assert {p.name for p in read} == set(params), nb.name
        calls = [
            node
            for c in cells
            if c["cell_type"] == "code" and "open_chapter" in "".join(c["source"])
            for node in ast.walk(ast.parse("".join(c["source"])))
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "open_chapter"
        ]
        assert len(calls) == 1, nb.name
        # the call passes the parameters cell's values through chapter.parameters(globals())
        (kw,) = calls[0].keywords
        assert kw.arg is None and getattr(kw.value.func, "attr", "") == "parameters", nb.name
    # ... which reads every parameter the book gives, and nothing else
    from layerwise.site import chapter

    namespace = {name: object() for name in params} | {"unrelated": 1}
    read_back = chapter.parameters(namespace)
    assert set(read_back) == set(params)
    assert all(read_back[n] is namespace[n] for n in params)
    with pytest.raises(LayerwiseError, match="seed"):
        chapter.parameters({n: 0 for n in params if n != "seed"})
    back = RunConfig(
        profile="tiny",
        dtype=params["dtype"],
        device_map=params["device_map"],
        max_memory=params["max_memory"],
        offload_folder=params["offload_folder"],
    )
    assert (back.dtype, back.device_map) == ("float16", "sequential")
    assert back.max_memory == {"0": "9GiB"}
    assert back.offload_folder is None and RunConfig(device_map="").device_map is None


def test_a_committed_chapter_run_in_place_is_named_and_a_copy_is_not(tmp_path):
    """JupyterLab gives the kernel the notebook's path ($JPY_SESSION_NAME); a chapter of a
    checkout's notebooks/ folder is the committed one, and the banner says to use a copy."""
    from layerwise.site import chapter, display

    checkout = tmp_path / "clone"
    (checkout / "notebooks").mkdir(parents=True)
    (checkout / "_toc.yml").write_text("format: jb-book\n")
    (checkout / "pyproject.toml").write_text('[project]\nname = "layerwise"\n')
    committed = checkout / "notebooks" / "03_anisotropy.ipynb"
    committed.write_text("{}")
    copy = checkout / "my-notebooks" / "03_anisotropy.ipynb"
    copy.parent.mkdir()
    copy.write_text("{}")
    # Jupyter Server's session name is relative to its root folder
    found = chapter.committed_notebook("notebooks/03_anisotropy.ipynb", start=str(checkout))
    assert found == committed.resolve()
    assert chapter.committed_notebook("my-notebooks/03_anisotropy.ipynb", str(checkout)) is None
    assert chapter.committed_notebook("", str(checkout)) is None  # papermill: no session
    outside = tmp_path / "elsewhere" / "notebooks" / "03_anisotropy.ipynb"
    outside.parent.mkdir(parents=True)
    outside.write_text("{}")
    assert (
        chapter.committed_notebook("notebooks/03_anisotropy.ipynb", str(outside.parents[1])) is None
    )
    text = display.banner_text(
        "tiny", None, "", {"scale": "reduced", "seed": 3}, "notebooks/03_anisotropy.ipynb"
    )
    assert "profile `tiny`, scale `reduced`, seed `3`" in text
    assert "committed chapter `notebooks/03_anisotropy.ipynb`" in text and "copy" in text
    assert "committed chapter" not in display.banner_text("tiny", None, "", {"seed": 0})


def test_an_opened_chapter_shows_a_table_cell_s_whole_text(tmp_path, monkeypatch):
    """Used to: chapter 4's settings table cut "its last subtoken" to "its last su..."
    (pandas' 50 characters); where the banner is shown the chapter's tables keep whole
    texts."""
    import pandas as pd

    from layerwise.site import chapter

    monkeypatch.setenv("JPY_SESSION_NAME", "")
    long = "x" * 80
    with pd.option_context("display.max_colwidth", 50):
        shown = []
        chapter.open_chapter(
            profile="tiny", scale="reduced", cache_dir=str(tmp_path), show=shown.append, log=None
        )
        assert shown, "the banner was shown"
        assert long in repr(pd.DataFrame({"text": [long]}))  # what a notebook shows


#: What jupyter-book prints when the disk fills while it writes the site (condensed from a
#: real run on a 2 MiB tmpfs): Sphinx's warnings name the source of each copy and the
#: errno, and the last lines are the strict-mode summary and jupyter-book's box.
FULL_DISK_LOG = """
import sys
out, err = sys.stdout, sys.stderr
static = "{venv}/pydata_sphinx_theme/theme/pydata_sphinx_theme/static/scripts"
print("Running Jupyter-Book v1.0.4.post1", file=out, flush=True)
print("Output Path: {root}/_build/html", file=out, flush=True)
print("building [html]: targets for 9 source files that are out of date", file=out, flush=True)
print("copying static files... ", end="", file=out, flush=True)
for name in ("bootstrap.js", "pydata-sphinx-theme.js", "fontawesome.js"):
    print(f"\\x1b[91mWARNING: Failed to copy a file in the theme's 'static' directory: "
          f"{{static}}/{{name}}: OSError(28, 'No space left on device')\\x1b[39;49;00m",
          file=err, flush=True)
print("writing output... [100%] notebooks/07_beyond", file=out, flush=True)
print("\\x1b[91mWARNING: error writing file {root}/_build/html/notebooks/07_beyond.html: "
      "[Errno 28] No space left on device\\x1b[39;49;00m", file=err, flush=True)
print("build finished with problems, 16 warnings (with warnings treated as errors).",
      file=out, flush=True)
print("=" * 79, file=out)
print("Building your book, returns a non-zero exit code (1). Look above for the cause.", file=out)
print("=" * 79, file=out, flush=True)
sys.exit(1)
"""


def _book_root(root):
    """A repository root the book's build accepts, with no chapter to execute."""
    (root / "book").mkdir(parents=True)
    (root / "book" / "intro.md").write_text("# Intro\n")
    (root / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n- file: book/build_report\n"
    )
    return root


def _build_with_fake_jupyter_book(tmp_path, monkeypatch, script):
    """``build_book`` of a repository with no chapter, its jupyter-book replaced by a
    Python ``script`` (formatted with ``root``); returns (root, the error it raised)."""
    import sys

    from layerwise.site import book

    root = _book_root(tmp_path / "repo")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "jupyter-book"
    text = script.format(root=root, venv="/opt/venv/lib/python3.11/site-packages")
    fake.write_text(f"#!{sys.executable}\n{text}")
    fake.chmod(0o755)
    # the build runs the jupyter-book beside the interpreter
    monkeypatch.setattr(sys, "executable", str(bin_dir / "python"))
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # build_book prepends to it
    cfg = RunConfig(
        profile="tiny",
        scale="reduced",
        device="cpu",
        results_dir=str(tmp_path / "results"),
        cache_dir=str(tmp_path / "cache"),
    )
    with pytest.raises(LayerwiseError) as err:
        book.build_book(cfg, root)
    return root, err.value


def test_a_disk_that_fills_during_jupyter_book_is_reported_as_such(tmp_path, monkeypatch, capsys):
    """Before issue 25 a disk that filled while jupyter-book wrote the site was reported as
    "jupyter-book failed (exit code 1) ... its warnings and errors are printed above. Remedy:
    fix them (the build is strict: every Sphinx warning fails it)": the cause only higher
    up, in a warning. Now the one line names the full disk, the build folder and the
    remedy (a fake jupyter-book prints a real run's log)."""
    root, err = _build_with_fake_jupyter_book(tmp_path, monkeypatch, FULL_DISK_LOG)
    assert isinstance(err, OutputError), err
    message = one_line(err)
    assert message.startswith("jupyter-book could not write the book: No space left on device")
    page = root / "_build" / "html" / "notebooks" / "07_beyond.html"  # the first under _build
    assert f"at {page} " in message and f"free space on the disk that holds {root}" in message
    assert "MiB free now" in message and "Remedy" in message and "\x1b[" not in message
    assert "It printed: WARNING: Failed to copy a file" in message
    assert "build finished with problems" in capsys.readouterr().out  # the log is still shown


def test_a_failed_jupyter_book_without_an_os_error_quotes_its_first_warning(
    tmp_path, monkeypatch, capsys
):
    """A strict-mode failure of the pages themselves (no operating-system error in the
    output) keeps the strict-mode message and now quotes the first warning, with its
    file and line (before issue 25: only "printed above")."""
    from layerwise.site import book

    log = (
        "import sys\n"
        "print('reading sources... [100%] intro', flush=True)\n"
        "print('\\x1b[91m/r/book/intro.md:3: WARNING: undefined label: x\\x1b[0m', "
        "file=sys.stderr, flush=True)\n"
        "print('build finished with problems, 1 warning.'); sys.exit(1)\n"
    )
    _, err = _build_with_fake_jupyter_book(tmp_path, monkeypatch, log)
    assert isinstance(err, book.BookBuildError), err
    message = one_line(err)
    assert "jupyter-book failed (exit code 1)" in message and "strict" in message
    assert "The first: /r/book/intro.md:3: WARNING: undefined label: x." in message
    assert "undefined label" in capsys.readouterr().out
