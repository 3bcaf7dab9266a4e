"""site.book with a real jupyter-book: a run that cannot write the site is reported by the
first operating-system error in its output (the path and the remedy), not by the
strict-mode summary it prints last (issue 25)."""

from __future__ import annotations

import os
import stat

import pytest
from support import one_line

from layerwise.errors import OutputError
from layerwise.pipeline.config import RunConfig
from layerwise.site import book


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
