"""An unchanged chapter is not executed again (layerwise.site.reuse): its key, the checks
before reuse, the stage written only where it changed, and a real two-chapter run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nbformat
import pytest

from layerwise.pipeline.config import RunConfig
from layerwise.site import book, build_report, reuse


def _nb(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    params = nbformat.v4.new_code_cell('profile = "auto"\nresults_dir = "../results"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Page"), params, nbformat.v4.new_code_cell(code)]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def test_the_key_follows_the_notebook_the_parameters_and_the_inputs(tmp_path):
    nb = _nb(tmp_path / "a.ipynb", "x = 1")
    key = reuse.chapter_key(nb, {"scale": "reduced"}, "inputs")
    assert key == reuse.chapter_key(nb, {"scale": "reduced"}, "inputs")
    assert key != reuse.chapter_key(nb, {"scale": "full"}, "inputs")
    assert key != reuse.chapter_key(nb, {"scale": "reduced"}, "other inputs")
    _nb(nb, "x = 2")
    assert key != reuse.chapter_key(nb, {"scale": "reduced"}, "inputs")


def test_inputs_name_the_hub_snapshot_but_not_a_local_model(monkeypatch):
    import layerwise.site.reuse as mod

    monkeypatch.setattr(mod, "hub_snapshot", lambda source: f"/hub/{source}/snap-1")
    first = reuse.inputs_digest(["tiny:gpt2", "org/model"])
    assert first == reuse.inputs_digest(["org/model", "tiny:gpt2"])  # order does not matter
    monkeypatch.setattr(mod, "hub_snapshot", lambda source: f"/hub/{source}/snap-2")
    assert reuse.inputs_digest(["org/model"]) != reuse.inputs_digest(["org/model", "x/y"])
    assert first != reuse.inputs_digest(["tiny:gpt2", "org/model"])  # a new snapshot
    assert reuse.inputs_digest(["tiny:gpt2"]) == reuse.inputs_digest(["tiny:gpt2"])


def test_reuse_needs_the_same_key_and_unchanged_result_files(tmp_path):
    executed = _nb(tmp_path / "run.ipynb", "x = 1")
    table = tmp_path / "results" / "t.csv"
    table.parent.mkdir()
    table.write_text("a\n1\n")
    (table.parent / "provenance.json").write_text(json.dumps({"t": {"seed": 0}, "u": {}}))
    wrong = {"files": {str(table): "?"}, "provenance": {}}
    reuse.store(tmp_path, "ch", "k1", executed, {"models": {}}, 3.5, wrong)
    assert reuse.reusable(tmp_path, "ch", "k1") is None  # its digest does not match
    digests = reuse.result_files(table.parent, since=0)
    assert set(digests["files"]) == {str(table)}  # provenance.json is shared, not owned
    assert digests["provenance"] == {"t": {"seed": 0}}
    reuse.store(tmp_path, "ch", "k1", executed, {"models": {}}, 3.5, digests)
    assert reuse.reusable(tmp_path, "ch", "k1")["seconds"] == 3.5
    assert reuse.reusable(tmp_path, "ch", "k2") is None
    (table.parent / "provenance.json").write_text(json.dumps({"t": {"seed": 0}, "v": {}}))
    assert reuse.reusable(tmp_path, "ch", "k1") is not None  # another chapter's entry added
    (table.parent / "provenance.json").write_text(json.dumps({"t": {"seed": 1}}))
    assert reuse.reusable(tmp_path, "ch", "k1") is None  # its own entry changed
    (table.parent / "provenance.json").write_text(json.dumps({"t": {"seed": 0}}))
    table.write_text("a\n2\n")
    assert reuse.reusable(tmp_path, "ch", "k1") is None
    table.unlink()
    assert reuse.reusable(tmp_path, "ch", "k1") is None


def test_sync_writes_only_what_differs_and_removes_what_is_gone(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    (src / "sub").mkdir(parents=True)
    (src / "a.md").write_text("a")
    (src / "sub" / "b.md").write_text("b")
    reuse.sync_tree(src, dest)
    (dest / "stale.md").write_text("old")
    old = (dest / "a.md").stat().st_mtime_ns
    time.sleep(0.01)
    (src / "sub" / "b.md").write_text("b2")
    reuse.sync_tree(src, dest)
    assert (dest / "a.md").stat().st_mtime_ns == old  # same bytes: not rewritten
    assert (dest / "sub" / "b.md").read_text() == "b2"
    assert not (dest / "stale.md").exists()
    assert reuse.write_if_changed(dest / "a.md", b"a") is False
    assert reuse.write_if_changed(dest / "a.md", b"A") is True


def test_build_report_says_which_chapters_were_reused():
    records = {"notebooks/01.ipynb": {"models": {}}, "notebooks/02.ipynb": {"models": {}}}
    page = build_report.report_markdown(
        records, {}, profile="tiny", scale="reduced", versions={}, reused=["notebooks/02.ipynb"]
    )
    assert "| `notebooks/01.ipynb` | executed |" in page
    assert "| `notebooks/02.ipynb` | reused |" in page


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_an_unchanged_chapter_is_not_executed_again(tmp_path, monkeypatch):
    runs = tmp_path / "runs.log"  # each execution appends a line: counts kernels, not reuse
    code = f"open({str(runs)!r}, 'a').write('{{}}\\n')\n"
    for name in ("one", "two"):
        _nb(tmp_path / "notebooks" / f"{name}.ipynb", code.replace("{}", name))
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n- file: notebooks/one\n- file: notebooks/two\n"
    )
    monkeypatch.setenv("TQDM_DISABLE", "1")
    cfg = RunConfig(profile="tiny", scale="reduced", results_dir="results")
    stage = tmp_path / "_build" / "src"

    def build() -> list[str]:
        reused: list[str] = []
        book.execute_notebooks(cfg, tmp_path, stage, {}, reused)
        return reused

    assert build() == []
    assert build() == ["notebooks/one.ipynb", "notebooks/two.ipynb"]
    assert runs.read_text().split() == ["one", "two"]
    staged = json.loads((stage / "notebooks" / "two.ipynb").read_text())
    assert any("two" in "".join(c["source"]) for c in staged["cells"])

    _nb(tmp_path / "notebooks" / "two.ipynb", code.replace("{}", "two, edited"))
    assert build() == ["notebooks/one.ipynb"]
    assert runs.read_text().splitlines() == ["one", "two", "two, edited"]
