"""A chapter's reuse key follows the code its notebook imports (layerwise.site.reuse with
layerwise.closure): an edit to a module the chapter does not import, however indirectly,
keeps the chapter reusable; an edit to one it imports re-executes it."""

from __future__ import annotations

from pathlib import Path

from support import add_comment

from layerwise import closure
from layerwise.site import reuse

ROOT = Path(__file__).resolve().parents[2]
CHAPTER3 = ROOT / "notebooks" / "03_anisotropy.ipynb"


def _store_chapter3(root: Path, key: str) -> None:
    executed = root / "executed.ipynb"
    executed.write_text(CHAPTER3.read_text())
    reuse.store(root, CHAPTER3.stem, key, executed, {"ok": True}, 1.0, {"files": {}})


def test_chapter3_is_reused_after_an_edit_outside_its_imports_only(tmp_path, package_copy):
    modules = closure.closure([*closure.notebook_modules(CHAPTER3), *reuse.RUNNER])
    # chapter 7's figures: a module chapter 3 does not import (checked, not assumed)
    outside = "layerwise.report.comparison_figures"
    inside = "layerwise.report.prose.anisotropy"  # chapter 3's own prose
    assert outside not in modules and inside in modules
    assert "layerwise.report.prose.word_tasks" not in modules  # each chapter imports its own
    params = {"scale": "reduced"}
    key = reuse.chapter_key(CHAPTER3, params, "inputs")
    _store_chapter3(tmp_path, key)

    add_comment(package_copy / "report" / "comparison_figures.py")
    add_comment(package_copy / "report" / "prose" / "word_tasks.py")  # chapter 4's text
    add_comment(package_copy / "platform" / "conformance.py")
    again = reuse.chapter_key(CHAPTER3, params, "inputs")
    assert again == key and reuse.reusable(tmp_path, CHAPTER3.stem, again) is not None

    add_comment(package_copy / "report" / "prose" / "anisotropy.py")
    edited = reuse.chapter_key(CHAPTER3, params, "inputs")
    assert edited != key and reuse.reusable(tmp_path, CHAPTER3.stem, edited) is None


def test_the_engine_that_runs_every_chapter_is_part_of_its_key(package_copy):
    key = reuse.chapter_key(CHAPTER3, {}, "inputs")
    add_comment(package_copy / "site" / "inline.py")
    assert reuse.chapter_key(CHAPTER3, {}, "inputs") != key


def test_the_inputs_no_longer_hash_the_whole_package(package_copy):
    before = reuse.inputs_digest(["tiny:gpt2"])
    add_comment(package_copy / "report" / "prose" / "anisotropy.py")
    add_comment(package_copy / "stats" / "geometry.py")
    assert reuse.inputs_digest(["tiny:gpt2"]) == before
