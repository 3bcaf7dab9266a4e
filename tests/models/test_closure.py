"""Keys by dependency (layerwise.closure): a cached value is keyed by the import closure of
the module that computes it, so an edit to a presentation module keeps every number's key
and an edit to an estimator changes the keys of the numbers it feeds."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from support import add_comment

from layerwise import closure
from layerwise.errors import InputError
from layerwise.store import cached, memo
from layerwise.store.cache import Cache

ROOT = Path(__file__).resolve().parents[2]


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def synthetic(tmp_path) -> Path:
    """A made-up ``layerwise`` package exercising every kind of import."""
    pkg = tmp_path / "layerwise"
    _write(pkg, "__init__.py", "")
    _write(pkg, "base.py", "import numpy\nimport os.path\nX = 1\n")
    _write(pkg, "unused.py", "from . import base\n")
    _write(pkg, "sub/__init__.py", "from .a import A\n")
    _write(pkg, "sub/a.py", "from ..base import X\nA = X\n")
    _write(pkg, "sub/b.py", "def f():\n    from . import c\n    return c\n")  # inside a function
    _write(pkg, "sub/c.py", "import layerwise.sub.b\n")  # a cycle back to b
    _write(pkg, "lazy/__init__.py", "def __getattr__(name):\n    return name\n")
    _write(pkg, "lazy/one.py", "")
    _write(pkg, "lazy/two.py", "")
    _write(pkg, "dyn.py", "import importlib\nm = importlib.import_module('layerwise.sub.c')\n")
    _write(pkg, "top.py", "from layerwise.sub import b\nfrom . import sub\nfrom .lazy import x\n")
    return pkg


def test_the_closure_follows_every_kind_of_import(synthetic):
    pkg = "layerwise"
    assert closure.closure([f"{pkg}.sub.a"], synthetic) == [f"{pkg}.base", f"{pkg}.sub.a"]
    # an import inside a function counts, a cycle ends
    assert closure.closure([f"{pkg}.sub.b"], synthetic) == [f"{pkg}.sub.b", f"{pkg}.sub.c"]
    # importlib.import_module with a literal name counts
    assert closure.closure([f"{pkg}.dyn"], synthetic) == [
        f"{pkg}.dyn",
        f"{pkg}.sub.b",
        f"{pkg}.sub.c",
    ]
    # `from package import submodule` counts the submodule, `from package import name` the
    # package's __init__ (and what it imports); a lazy __init__ counts its whole package
    assert closure.closure([f"{pkg}.top"], synthetic) == [
        f"{pkg}.base",
        f"{pkg}.lazy",
        f"{pkg}.lazy.one",
        f"{pkg}.lazy.two",
        f"{pkg}.sub",
        f"{pkg}.sub.a",
        f"{pkg}.sub.b",
        f"{pkg}.sub.c",
        f"{pkg}.top",
    ]
    with pytest.raises(InputError, match="not a module"):
        closure.closure(["layerwise.missing"], synthetic)
    with pytest.raises(InputError, match="not a module"):
        closure.closure(["numpy"], synthetic)


def test_a_table_of_lazy_names_counts_exactly_the_modules_it_names(synthetic):
    """``_EXPORTS`` (name -> submodule, as in ``layerwise/__init__.py``): a notebook that
    calls ``lw.word_task_scores`` depends on the module defining it, not on its siblings."""
    _write(
        synthetic,
        "table/__init__.py",
        '_EXPORTS = {"f": "one", "g": "deep.two"}\ndef __getattr__(name):\n    return name\n',
    )
    _write(synthetic, "table/one.py", "from ..base import X\n")
    _write(synthetic, "table/other.py", "")
    _write(synthetic, "table/deep/__init__.py", "")
    _write(synthetic, "table/deep/two.py", "")
    assert closure.closure(["layerwise.table"], synthetic) == [
        "layerwise.base",
        "layerwise.table",
        "layerwise.table.deep.two",
        "layerwise.table.one",
    ]
    real = closure.closure(["layerwise"])
    assert "layerwise.measure.words" in real and "layerwise.models.loading" in real
    assert not any(m.startswith(("layerwise.report.prose", "layerwise.platform")) for m in real)


def test_the_digest_changes_with_a_module_of_the_closure_only(synthetic):
    before = closure.code_digest(["layerwise.sub.a"], synthetic)
    (synthetic / "unused.py").write_text("from . import base\n# a comment\n")
    (synthetic / "sub" / "b.py").write_text("# another\n")
    assert closure.code_digest(["layerwise.sub.a"], synthetic) == before
    (synthetic / "base.py").write_text("import numpy\nX = 1  # a comment\n")
    assert closure.code_digest(["layerwise.sub.a"], synthetic) != before
    after = closure.code_digest(["layerwise.sub.a"], synthetic)
    # the data checksums are part of every digest
    _write(synthetic, "datasets/SHA256SUMS", "abc  x.csv\n")
    assert closure.code_digest(["layerwise.sub.a"], synthetic) != after


def test_a_module_that_does_not_parse_is_named(synthetic):
    (synthetic / "base.py").write_text("def (:\n")
    with pytest.raises(InputError, match=r"base\.py"):
        closure.closure(["layerwise.sub.a"], synthetic)


def _keys(models) -> dict[str, str]:
    """The keys of two registry tables and of a bootstrap interval, as the run computes them."""
    from layerwise.measure.common import MeasureOptions
    from layerwise.pipeline import tables
    from layerwise.stats import correlation

    s = MeasureOptions(cache=None)
    return {
        "cwe": tables.table_key("cwe_geometry", models, s),
        "words": tables.table_key("word_tasks", models, s),
        "interval": cached.value_key("bootstrap interval", correlation.__name__, kind="k"),
    }


def test_a_presentation_edit_keeps_every_key_and_an_estimator_edit_changes_them(
    package_copy, tiny_gpt2
):
    models = {"causal": tiny_gpt2}
    first = _keys(models)
    for presentation in ("report/prose/anisotropy.py", "report/figures.py", "site/display.py"):
        add_comment(package_copy / presentation)
    assert _keys(models) == first
    add_comment(package_copy / "measure" / "words.py")  # a measurement: its table only
    second = _keys(models)
    assert second["words"] != first["words"]
    assert second["cwe"] == first["cwe"] and second["interval"] == first["interval"]
    add_comment(package_copy / "stats" / "geometry.py")  # chapter 3's estimator
    third = _keys(models)
    assert third["cwe"] != second["cwe"] and third["interval"] == second["interval"]
    add_comment(package_copy / "stats" / "correlation.py")  # the bootstrap: intervals too
    fourth = _keys(models)
    assert fourth["interval"] != third["interval"] and fourth["words"] != third["words"]
    add_comment(package_copy / "pipeline" / "tables.py")  # the glue: every table
    fifth = _keys(models)
    assert fifth["cwe"] != fourth["cwe"] and fifth["words"] != fourth["words"]


def test_compute_table_keeps_a_table_under_its_table_key(tmp_path, tiny_gpt2):
    from layerwise.measure.common import MeasureOptions
    from layerwise.pipeline import tables

    s = MeasureOptions(n_resamples=10, cache=Cache(tmp_path / "c"))
    models = {"causal": tiny_gpt2}
    table = tables.compute_table("sentence_self_similarity", models, s)

    def not_again():
        raise AssertionError("the table was not found under table_key")

    key = tables.table_key("sentence_self_similarity", models, s)
    pd.testing.assert_frame_equal(s.cache.get_or_compute_frame(key, not_again), table)


def test_every_cached_table_names_code_that_exists():
    from layerwise.pipeline import tables

    for entry in tables.TABLES.values():
        assert not entry.cached or entry.code, entry.name
        for module in entry.code:
            assert closure.module_file(module) is not None, (entry.name, module)
    with pytest.raises(InputError, match="names its code"):
        tables.TableEntry("t", 3, "a table", lambda models, s, t: None)


def test_no_number_depends_on_the_prose_the_figures_or_the_book():
    """What the design rests on: the modules whose closures key the measured tables import
    none of the presentation modules, however indirectly."""
    from layerwise.pipeline import tables

    modules = closure.closure([m for entry in tables.TABLES.values() for m in entry.code])
    shown = [
        m
        for m in modules
        if m.startswith(("layerwise.report.prose", "layerwise.site", "layerwise.cli"))
        or m in ("layerwise.report.figures", "layerwise.report.text")
    ]
    assert "layerwise.stats.correlation" in modules and "layerwise.measure.words" in modules
    assert shown == []


def test_a_value_is_keyed_by_the_module_that_computes_it(tmp_path, package_copy):
    cache = Cache(tmp_path / "c")
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    # a function defined outside the package cannot be keyed by its code: a clear error
    with pytest.raises(InputError, match="is defined in"):
        cached.cached_value(cache, "x", compute)
    assert calls == []
    # a function of a package module is keyed by that module's closure
    compute.__module__ = "layerwise.stats.correlation"
    assert cached.cached_value(cache, "v", compute) == 1
    assert cached.cached_value(cache, "v", compute) == 1  # read
    add_comment(package_copy / "report" / "text.py")
    assert cached.cached_value(cache, "v", compute) == 1  # a presentation edit: read
    add_comment(package_copy / "stats" / "correlation.py")
    assert cached.cached_value(cache, "v", compute) == 2  # an estimator edit: computed
    assert cache.counts["values"] == {"reused": 2, "computed": 2}


def test_the_bootstrap_memo_is_keyed_by_the_estimators_code(tmp_path, package_copy):
    from layerwise.stats.scores import word_similarity_scores

    gen = np.random.default_rng(0)
    a, b = gen.normal(size=(20, 2, 4)), gen.normal(size=(20, 2, 4))
    human = gen.normal(size=20)
    m = memo.BootstrapMemo(Cache(tmp_path / "c"))

    def run():
        return word_similarity_scores(
            a, b, human, rng=np.random.default_rng(1), n_resamples=20, memo=m
        )

    run()
    add_comment(package_copy / "report" / "prose" / "sts.py")
    add_comment(package_copy / "measure" / "words.py")
    run()
    assert (m.computed, m.reused) == (1, 1)
    add_comment(package_copy / "stats" / "correlation.py")
    run()
    assert (m.computed, m.reused) == (2, 1)


def test_a_notebooks_imports_are_read_from_its_code_cells(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("import layerwise.report.figures"),  # not code
        nbformat.v4.new_code_cell("%matplotlib inline\nimport numpy as np\n"),
        nbformat.v4.new_code_cell(
            "from layerwise.stats import geometry\nimport layerwise.measure.words as w\n"
            "def f():\n    from layerwise.data import reference\n"
            "from layerwise.measure.common import MeasureOptions\n"
        ),
    ]
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert closure.notebook_modules(path) == [
        "layerwise.data.reference",
        "layerwise.measure.common",
        "layerwise.measure.words",
        "layerwise.stats.geometry",
    ]
    bad = nbformat.v4.new_notebook()
    bad.cells = [nbformat.v4.new_code_cell("def (:")]
    nbformat.write(bad, path)
    with pytest.raises(InputError, match=re.escape(str(path))):
        closure.notebook_modules(path)
