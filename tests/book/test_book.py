"""site.book with a real jupyter-book: a run that cannot write the site is reported by the
first operating-system error in its output (the path and the remedy), not by the
strict-mode summary it prints last; and Ctrl-C or SIGTERM while a chapter's kernel runs, or
while jupyter-book renders, ends the build with one line saying which chapters are kept for
the next build, exit status 130 or 143, and no kernel or jupyter-book left running (a real
build of a two-chapter book in a temporary folder, ``python -m layerwise book``). Issue 25."""

from __future__ import annotations

import os
import signal
import stat
from pathlib import Path

import nbformat
import pytest
from support import assert_stopped_cleanly, interrupt, one_line

from layerwise.errors import OutputError
from layerwise.pipeline.config import RunConfig
from layerwise.site import book, reuse

BOOK = ["book", "--profile", "tiny", "--scale", "reduced", "--device", "cpu"]
needs_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds the run's processes in /proc"
)


def _book_root(root):
    """A repository root with one page and no chapter to execute."""
    (root / "book").mkdir(parents=True)
    (root / "book" / "intro.md").write_text("# Intro\n\nOne page.\n")
    (root / "_config.yml").write_text("title: t\nexecute:\n  execute_notebooks: 'off'\n")
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n- file: book/build_report\n"
    )
    return root


def _build(root, tmp_path, monkeypatch):
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
    return one_line(err.value)


def test_a_file_where_jupyter_book_writes_a_folder_is_named(tmp_path, monkeypatch):
    """A file stands where Sphinx makes ``_build/html/_sources``: jupyter-book ends with its
    box "There was an error in building your book. Look above for the cause." and the
    build said only "jupyter-book failed (exit code 1) ... printed above" (before issue
    25). Now the line names the error and the path."""
    root = _book_root(tmp_path / "repo")
    blocker = root / "_build" / "html" / "_sources"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where a folder goes")
    message = _build(root, tmp_path, monkeypatch)
    assert message.startswith("jupyter-book could not write the book: ")
    assert "Not a directory (errno 20)" in message or "File exists (errno 17)" in message
    assert f"at {blocker}" in message and f"delete {root / '_build'}" in message


def _ignores_permissions(folder) -> bool:
    """Whether this process writes into a folder whose mode forbids it (root with
    CAP_DAC_OVERRIDE does; root without it, e.g. under ``setpriv``, does not)."""
    probe = folder / "probe"
    probe.mkdir()
    probe.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        (probe / "x").write_text("")
    except PermissionError:
        return False
    finally:
        probe.chmod(stat.S_IRWXU)
    return True


def test_a_site_folder_without_write_permission_is_named(tmp_path, monkeypatch):
    """``_build/html`` that this user cannot write: named with "Permission denied" and the
    remedy, instead of the strict-mode summary (before issue 25)."""
    if _ignores_permissions(tmp_path):
        pytest.skip("this process writes into read-only folders (root)")
    root = _book_root(tmp_path / "repo")
    html = root / "_build" / "html"
    html.mkdir(parents=True)
    html.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        message = _build(root, tmp_path, monkeypatch)
    finally:
        html.chmod(stat.S_IRWXU)
    assert message.startswith("jupyter-book could not write the book: Permission denied")
    assert f"make {html} writable for this user" in message, message


def _book(root: Path, chapters: dict[str, str]) -> Path:
    """A book at ``root``: one notebook per chapter (name -> the code of its one cell, after
    a ``parameters`` cell), in that order in ``_toc.yml``."""
    for name, code in chapters.items():
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {
            "display_name": "Python 3",
            "language": "python",
            "name": "python3",
        }
        params = nbformat.v4.new_code_cell('profile = "auto"\nresults_dir = "../results"')
        params.metadata["tags"] = ["parameters"]
        nb.cells = [
            nbformat.v4.new_markdown_cell(f"# {name}"),
            params,
            nbformat.v4.new_code_cell(code),
        ]
        (root / "notebooks").mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, root / "notebooks" / f"{name}.ipynb")
    files = "".join(f"- file: notebooks/{name}\n" for name in chapters)
    (root / "_toc.yml").write_text(f"format: jb-book\nroot: intro\nchapters:\n{files}")
    (root / "intro.md").write_text("# A book\n")
    return root


@needs_proc
def test_ctrl_c_while_a_chapter_runs_stops_its_kernel_and_keeps_the_chapters_done(tmp_path):
    """Ctrl-C at a terminal (SIGINT to the process group; the kernel, in a session of its
    own, is not in it) while the second chapter's kernel runs: the kernel is stopped, the
    first chapter is kept for the next build, one line, exit status 130. Used to: papermill
    shut the busy kernel down "gracefully", and the kernel printed a ``ZMQError`` traceback
    of its closed sockets, with the build's own ``KeyboardInterrupt`` traceback; status -2."""
    running = tmp_path / "RUNNING"
    code = f"import pathlib, time\npathlib.Path({str(running)!r}).write_text('x')\ntime.sleep(300)"
    root = _book(tmp_path / "book", {"one": "x = 1", "two": code})
    stopped = interrupt(
        [*BOOK, "--out", str(root / "results")],
        lambda pid: running.exists(),
        signal.SIGINT,
        to_group=True,
        cwd=root,
    )
    assert_stopped_cleanly(
        stopped,
        signal.SIGINT,
        r"1 of 2 chapters done and kept for the next build \(1 executed, 0 reused\)",
    )
    assert stopped.seconds < 20
    assert (root / reuse.STORE / "one.json").exists()
    assert not (root / reuse.STORE / "two.json").exists()


@needs_proc
def test_sigterm_while_jupyter_book_renders_stops_it(tmp_path):
    """SIGTERM to the build once jupyter-book renders the site: jupyter-book (in a session
    of its own) is stopped, one line, exit status 143. Used to: the build was killed
    without a word (status -15) and jupyter-book rendered on, orphaned."""
    root = _book(tmp_path / "book", {"one": "x = 1"})
    stopped = interrupt(
        [*BOOK, "--out", str(root / "results")],
        r"Running Jupyter-Book",
        signal.SIGTERM,
        cwd=root,
    )
    assert_stopped_cleanly(
        stopped,
        signal.SIGTERM,
        "every chapter done and kept for the next build, the site not rendered",
    )
    assert stopped.seconds < 20
