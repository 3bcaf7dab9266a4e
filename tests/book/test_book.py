"""site.book interrupted: Ctrl-C or SIGTERM while a chapter's kernel runs, or while
jupyter-book renders, ends the build with one line saying which chapters are kept for the
next build, exit status 130 or 143, and no kernel or jupyter-book left running. A real
build of a two-chapter book in a temporary folder (``python -m layerwise book``)."""

from __future__ import annotations

import signal
from pathlib import Path

import nbformat
import pytest
from support import assert_stopped_cleanly, interrupt

from layerwise.site import reuse

BOOK = ["book", "--profile", "tiny", "--scale", "reduced", "--device", "cpu"]
pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds the run's processes in /proc"
)


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
