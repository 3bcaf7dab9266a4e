"""The one public door: ``import layerwise as lw`` (src/layerwise/__init__.py), and the old
``layerwise.experiments`` spelling kept for a release as a shim that warns."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import layerwise as lw

ROOT = Path(__file__).resolve().parents[2]


def test_every_public_name_resolves_to_the_object_its_module_defines():
    import importlib

    assert lw.__all__[0] == "__version__"
    for name in lw.__all__[1:]:
        module = importlib.import_module(f"layerwise.{lw._EXPORTS[name]}")
        assert getattr(lw, name) is getattr(module, name), name
    with pytest.raises(AttributeError, match="no attribute 'word_task_score'"):
        lw.word_task_score  # noqa: B018 (a typo is an AttributeError, not None)


def test_importing_layerwise_and_its_errors_loads_no_torch():
    code = "import sys, layerwise as lw; lw.InputError; lw.select; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stderr


def test_the_old_experiments_module_warns_at_the_callers_line_and_hands_out_the_same_object():
    import layerwise.experiments as old

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = old.word_task_scores
        line = sys._getframe().f_lineno - 1
    assert got is lw.word_task_scores
    [w] = caught
    assert w.category is DeprecationWarning
    assert Path(w.filename).resolve() == Path(__file__).resolve() and w.lineno == line
    assert "use layerwise.word_task_scores" in str(w.message)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from layerwise.experiments import cwe_sentence_set  # not public: its module is named
    assert "use layerwise.measure.cwe.cwe_sentence_set" in str(caught[0].message)
    assert cwe_sentence_set.__module__ == "layerwise.measure.cwe"


def _python_blocks(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("page", ["README.md", "CONTRIBUTING.md", "book/api.md", "book/rerun.md"])
def test_the_pages_show_researchers_the_one_door(page):
    """Every layerwise name a page's Python examples use comes from ``layerwise`` itself,
    and is public."""
    blocks = _python_blocks(ROOT / page)
    assert blocks, f"{page} has no python example"
    used = 0
    for block in blocks:
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("layerwise"):
                pytest.fail(f"{page}: 'from {node.module} import ...' (use import layerwise as lw)")
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("layerwise"):
                        assert alias.name == "layerwise", f"{page}: import {alias.name}"
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "lw"
            ):
                assert node.attr in lw.__all__, f"{page}: lw.{node.attr} is not public"
                used += 1
    assert used, f"{page}: no lw.<name> call"


def test_the_api_page_lists_exactly_the_public_names():
    text = (ROOT / "book" / "api.md").read_text(encoding="utf-8")
    section = text.split("## The public API", 1)[1].split("```", 2)[1]
    # the autosummary entries: indented names, qualified (~module.name) or not
    entries = re.findall(r"^   ~?([\w.]+)$", section, flags=re.M)
    listed = {entry.rsplit(".", 1)[-1] for entry in entries}
    assert listed == set(lw.__all__) - {"__version__"}
