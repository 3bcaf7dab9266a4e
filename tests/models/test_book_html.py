"""The book as a reader sees it: math served offline, no CDN or machine path in a built
page, prose cells hidden, paths shown relative to the repository, the build report."""

from __future__ import annotations

import ast
import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import layerwise.files as files_mod
import layerwise.site.display as site_display
from layerwise.site import book, build_report

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
HIDDEN = {"remove-input", "hide-input", "remove-cell"}


# --- math offline -------------------------------------------------------------------


def test_config_serves_mathjax_from_the_book():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "sphinx-mathjax-offline" in config["sphinx"]["extra_extensions"]
    assert "mathjax_path" not in config["sphinx"].get("config", {})


def test_offline_mathjax_extension_ships_mathjax_and_points_sphinx_at_it():
    pytest.importorskip("sphinx")
    import importlib

    ext = importlib.import_module("sphinx-mathjax-offline")
    folder = Path(ext.__file__).parent / "static" / "mathjax"
    assert (folder / "tex-chtml.js").stat().st_size > 100_000

    class App:
        config = type("Config", (), {})()
        hooks: list[str] = []

        def connect(self, event, _fn):
            self.hooks.append(event)

    app = App()
    ext.setup(app)
    assert app.config.mathjax_path == "mathjax/tex-chtml.js"  # relative: the book's _static
    assert "build-finished" in app.hooks


# --- leak scan ----------------------------------------------------------------------

MACHINE = ("/work/clone", "/home/ana")


def test_find_leaks_reports_a_mathjax_cdn_script():
    html = '<script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>'
    assert book.find_leaks(html, MACHINE) == [
        "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
    ]


def test_find_leaks_reports_protocol_relative_and_other_cdns():
    html = (
        '<script src="//unpkg.com/x.js"></script><link href="https://cdnjs.cloudflare.com/a.css">'
    )
    assert book.find_leaks(html, MACHINE) == [
        "//unpkg.com/x.js",
        "https://cdnjs.cloudflare.com/a.css",
    ]


def test_find_leaks_reports_machine_paths_but_not_relative_ones():
    html = (
        "<p>written to /work/clone/results/offline/cwe_geometry.csv and results/x.csv</p>"
        "<p>cache /home/ana/.cache/layerwise</p><p>cwd /work/clone</p>"
    )
    assert book.find_leaks(html, MACHINE) == [
        "/work/clone/results/offline/cwe_geometry.csv",
        "/work/clone",
        "/home/ana/.cache/layerwise",
    ]


def test_find_leaks_ignores_a_longer_folder_name_and_local_scripts():
    html = '<p>/work/clone2/x and /home/anabel</p><script src="_static/mathjax/tex-chtml.js">'
    assert book.find_leaks(html, MACHINE) == []


def test_check_html_fails_the_build_naming_the_page(tmp_path):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "index.html").write_text('<script src="_static/mathjax/tex-chtml.js"></script>')
    (tmp_path / "notebooks" / "03.html").write_text("<p>/work/clone/results/a.csv</p>")
    with pytest.raises(book.BookLeakError, match=r"notebooks/03\.html: /work/clone/results/a\.csv"):
        book.check_html(tmp_path, MACHINE)
    (tmp_path / "notebooks" / "03.html").write_text("<p>results/a.csv</p>")
    assert book.check_html(tmp_path, MACHINE) == 2


def test_hide_injected_parameters_tags_only_papermills_cell(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "a = 1"},
            {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "a=2"},
            {"cell_type": "code", "metadata": {}, "source": "a"},
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    assert book.hide_injected_parameters(path) == 1
    tags = [c["metadata"].get("tags", []) for c in json.loads(path.read_text())["cells"]]
    assert tags == [["parameters"], ["injected-parameters", "remove-cell"], []]
    assert book.hide_injected_parameters(path) == 0  # idempotent


# --- notebooks ----------------------------------------------------------------------


def _updates_prose(source: str) -> bool:
    """Whether a cell only builds the chapter's text: every statement is ``text = ...`` or
    ``text.update(...)``."""
    body = ast.parse(source).body
    return bool(body) and all(
        (isinstance(n, ast.Assign) and [ast.unparse(t) for t in n.targets] == ["text"])
        or (isinstance(n, ast.Expr) and ast.unparse(n.value).startswith("text.update("))
        for n in body
    )


#: The kernelspec JupyterLab writes for the venv's kernel: committing it keeps a chapter
#: unmodified when it is opened.
JUPYTERLAB_KERNELSPEC = {
    "display_name": "Python 3 (ipykernel)",
    "language": "python",
    "name": "python3",
}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_prose_cells_are_hidden_in_the_book_and_in_jupyterlab(nb):
    cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    prose_cells = [c for c in cells if _updates_prose("".join(c["source"]))]
    assert prose_cells, "a chapter states its numbers through its Prose, `text`"
    for c in prose_cells:
        assert "remove-cell" in c["metadata"].get("tags", []), "".join(c["source"])
        assert c["metadata"].get("jupyter", {}).get("source_hidden") is True


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_tags_have_their_jupyterlab_equivalent(nb):
    """What the website folds or removes, JupyterLab shows collapsed; the one exception is
    the chapter's opening (imports and ``open_chapter``), folded on the website and left
    as one short visible cell in JupyterLab, where a reader runs it."""
    openings = 0
    for c in json.loads(nb.read_text())["cells"]:
        tags, lab = set(c["metadata"].get("tags", [])), c["metadata"].get("jupyter", {})
        if "open_chapter(" in "".join(c["source"]):
            openings += 1
            assert "hide-input" in tags and not lab.get("source_hidden")
            assert len(c["source"]) <= 18, "the opening stays one short cell"
            continue
        if tags & HIDDEN:
            assert lab.get("source_hidden") is True, "".join(c["source"])
        if "hide-output" in tags:
            assert lab.get("outputs_hidden") is True, "".join(c["source"])
    assert openings == 1


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_numbers_come_from_eval_roles_and_figures_from_their_cells(nb):
    import re

    notebook = json.loads(nb.read_text())
    assert notebook["metadata"]["kernelspec"] == JUPYTERLAB_KERNELSPEC
    text = nb.read_text()
    assert "{glue" not in text and "glue(" not in text
    markdown = ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "markdown"]
    roles = [r for md in markdown for r in re.findall(r"\{eval\}`([^`]*)`", md)]
    # the prose reads its Prose; an exercise's solution may show a value it computed
    assert roles and all(re.fullmatch(r"text\.[a-z0-9_]+|[a-z_][a-z0-9_]*", r) for r in roles)
    for c in notebook["cells"]:
        source = "".join(c["source"])
        figure = c["metadata"].get("mystnb", {}).get("figure")
        shows = source.count("display.show_figure(")
        assert shows == (1 if figure else 0), source
        if figure:
            assert figure["name"].startswith("fig-") and len(figure["caption"]) > 20


def test_prose_cell_detector():
    assert _updates_prose("text = prose.Prose(a=1)\ntext.update(b=2)")
    assert _updates_prose("text.update(prose.sts.gaps_texts(gaps))")
    assert not _updates_prose("geo = tables.compute_table('x')\ntext.update(a=1)")
    assert not _updates_prose("display.show_figure(fig)")


# --- display helpers ----------------------------------------------------------------


def test_shown_path_is_relative_to_the_repository(tmp_path):
    (tmp_path / "_toc.yml").write_text("root: x\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "layerwise"\n')
    (tmp_path / "results" / "offline").mkdir(parents=True)
    csv = tmp_path / "results" / "offline" / "cwe_geometry.csv"
    assert site_display.shown_path(csv, tmp_path) == "results/offline/cwe_geometry.csv"
    assert site_display.shown_path(tmp_path / "notebooks" / ".." / "results", tmp_path) == "results"
    assert files_mod.repository_root(tmp_path / "results" / "offline") == tmp_path.resolve()


def test_shown_path_outside_the_repository_uses_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    repo = tmp_path / "repo"
    repo.mkdir()
    cache = tmp_path / "home" / ".cache" / "layerwise"
    assert site_display.shown_path(cache, repo) == "~/.cache/layerwise"


def test_reader_table_shows_an_en_dash_for_undefined_values():
    df = pd.DataFrame({"paper": [0.159, np.nan], "reproduced": [0.12345, 0.5]})
    html = site_display.reader_table(df).to_html()
    assert "\u2013" in html and "nan" not in html.lower()
    assert "0.123" in html and "0.12345" not in html
    assert 'class="dataframe"' in html  # styled by the theme like pandas' own tables


def test_reader_table_formats_by_column():
    df = pd.DataFrame({"difference": [0.25, np.nan], "holds": [True, pd.NA]})
    html = site_display.reader_table(
        df,
        formats={"difference": "{:+.2f}", "holds": lambda v: "undefined" if pd.isna(v) else "yes"},
        hide_index=True,
    ).to_html()
    assert "+0.25" in html and "\u2013" in html  # missing number: en dash
    assert "yes" in html and "undefined" in html  # a function sees missing values too
    assert "nan" not in html.lower()


def _claims(reproduced: list[float]) -> pd.DataFrame:
    """A claims table (report.table1.claim_checks' columns) of the first claims with a
    count claim among them."""
    from layerwise.data import reference

    texts = [c.text for c in reference.CLAIMS if c.key in site_display.COUNT_CLAIMS][:1]
    texts += [c.text for c in reference.CLAIMS if c.key not in site_display.COUNT_CLAIMS][:1]
    return pd.DataFrame(
        {"claim": texts, "reproduced": reproduced, "paper": [np.nan, 0.24]},
        index=[4, 7],
    )


def test_reader_table_shows_a_claims_count_as_an_integer():
    html = site_display.reader_table(_claims([1.0, 0.2345])).to_html()
    assert ">1<" in html and "1.000" not in html  # the count of tasks
    assert "0.234" in html  # a value keeps its decimals
    formatted = site_display.reader_table(
        _claims([5.0, 0.2345]), formats={"reproduced": "{:.3f}"}, hide_index=True
    ).to_html()
    assert ">5<" in formatted and "5.000" not in formatted and "0.234" in formatted


def test_the_claims_table_shows_verdicts_in_words_and_no_ids():
    """Used to: chapter 3 showed ``claims.round(3)``: an index column, ``direction_holds``
    and ``False``/``<NA>`` in its cells."""
    claims = _claims([1.0, 0.2345]).assign(
        difference=[np.nan, -0.0056],
        direction_holds=pd.array([pd.NA, False], "boolean"),
    )
    html = site_display.claims_table(claims).to_html()
    assert "direction holds" in html and "direction_holds" not in html
    assert "undefined" in html and "does not hold" in html and "False" not in html
    assert "-0.006" in html and ">1<" in html and "0.234" in html
    assert ">7<" not in html  # no index


def test_an_empty_table_is_a_sentence_saying_why():
    empty = pd.DataFrame(columns=["model", "published", "native"]).set_index("model")
    shown = site_display.reader_table(empty, 5, empty="No model of this run has its own pooling.")
    assert not hasattr(shown, "to_html")  # not a table: no lone header
    assert shown.data == "No model of this run has its own pooling."
    assert site_display.reader_table(empty).data == site_display.EMPTY_TABLE


def test_reader_table_names_ids_in_words_and_keeps_long_texts_wide():
    df = pd.DataFrame(
        {"top_dimension": [12.0], "isoscore": [0.123456]},
        index=pd.Index(["cwe"], name="sample"),
    )
    html = site_display.reader_table(
        df, formats={"top_dimension": "{:.0f}"}, readable=True
    ).to_html()
    assert "IsoScore" in html and "isoscore" not in html and "0.123" in html
    assert "Largest contributing dimension" in html and ">12<" in html
    assert "word embeddings (CWEs)" in html
    claims = site_display.reader_table(_claims([1.0, 0.5])).to_html()
    assert "min-width: 16em" in claims  # the claim text wraps as a sentence


def test_config_registers_the_books_css_that_scrolls_wide_tables():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]
    (static,) = config["html_static_path"]
    assert config["html_css_files"] == ["layerwise.css"]
    css = (ROOT / static / "layerwise.css").read_text()
    assert "overflow-x: auto" in css and "max-width: 100%" in css


# --- build report -------------------------------------------------------------------


class _Spec:
    name, source, revision, device, dtype = "MiniLM", "package:x", "0.1.0", "cpu", "float32"


class _LM:
    spec = _Spec()


def test_record_writes_models_and_cache_counts_by_kind(tmp_path):
    from layerwise.store.cache import Cache

    cache = Cache(tmp_path / "c")
    cache.get_or_compute_json("k1", lambda: 1)  # a value, computed
    cache.get_or_compute_json("k1", lambda: 1)  # the same value, reused
    cache.get_or_compute_json("k2", lambda: [0.1, 0.2], kind="intervals")  # computed
    cache.get_or_compute_frame("k3", lambda: pd.DataFrame({"a": [1]}))  # a table, computed
    cache.rejected.append("bad")
    ns = {"models": {"contrastive": _LM()}, "s": type("S", (), {"cache": cache})()}
    out = build_report.record(ns, tmp_path / "r.json")
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved == out
    assert saved["cache"] == {
        "values": {"reused": 1, "computed": 1},
        "intervals": {"reused": 0, "computed": 1},
        "tables": {"reused": 0, "computed": 1},
    }
    assert saved["cache_rejected"] == 1
    assert saved["models"]["contrastive"]["revision"] == "0.1.0"
    assert build_report.record({}, tmp_path / "n.json")["cache"] is None


def test_report_markdown_lists_chapters_models_and_versions():
    records = {
        "notebooks/01_data.ipynb": {"models": {}, "cache": None},
        "notebooks/02_extraction.ipynb": {
            "models": {
                "contrastive": {
                    "name": "MiniLM",
                    "source": "package:x",
                    "revision": "r1",
                    "device": "cpu",
                    "dtype": "float32",
                }
            },
            "cache": {
                "extractions": {"reused": 4, "computed": 1},
                "intervals": {"reused": 7, "computed": 0},
            },
        },
    }
    text = build_report.report_markdown(
        records,
        {"notebooks/01_data.ipynb": 2.5, "notebooks/02_extraction.ipynb": 10.0},
        profile="tiny",
        scale="reduced",
        versions={"torch": "2.5.0", "gguf": None},
        built=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc),
    )
    assert text.startswith("# Build report\n")
    assert "2026-01-02 03:04 UTC" in text and "`make book PROFILE=tiny SCALE=reduced`" in text
    dash = "\u2013"
    assert f"| `notebooks/01_data.ipynb` | executed | 2.5 | {' | '.join([dash] * 8)} |" in text
    # extractions, tables (none: dashes), intervals, values (none)
    cells = ["4", "1", dash, dash, "7", "0", dash, dash]
    row = f"| `notebooks/02_extraction.ipynb` | executed | 10.0 | {' | '.join(cells)} |"
    assert row in text
    assert "| contrastive | MiniLM | `package:x` | `r1` | cpu | float32 |" in text
    assert "| torch | 2.5.0 |" in text and "| gguf | \u2013 |" in text


def test_build_report_page_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    assert "book/build_report" in toc
    assert (ROOT / "book" / "build_report.md").is_file()


def test_record_cell_calls_record_with_the_path(tmp_path):
    src = build_report.record_cell_source(tmp_path / "r.json")
    assert src.endswith(f"build_report.record(globals(), {str(tmp_path / 'r.json')!r})")


def test_thebe_url_constant_is_not_a_leak_but_a_thebe_script_tag_is():
    const = '<script>const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"; </script>'
    assert book.find_leaks(const, MACHINE) == []
    tag = '<script src="https://unpkg.com/thebe@0.8.2/lib/index.js"></script>'
    assert book.find_leaks(tag, MACHINE) == ["https://unpkg.com/thebe@0.8.2/lib/index.js"]


def test_auto_says_which_profile_it_chose_and_why(monkeypatch):
    import layerwise.pipeline.profiles as profiles

    where = {"openai/clip-vit-base-patch32": "cached", "gpt2": "unavailable"}
    monkeypatch.setattr(profiles, "hub_availability", lambda src: where[src])
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    chosen, why = profiles.auto_choice()
    assert chosen == "offline" and profiles.profile_name("auto") == "offline"
    assert "`gpt2`" in why.split("not in the local Hugging Face cache:")[1]
    assert "HF_HUB_OFFLINE is set" in why and 'profile = "paper"' in why
    text = site_display.banner_text("offline", None, why)
    assert why in text.splitlines()[0]
    where["gpt2"] = "reachable"
    chosen, why = profiles.auto_choice()
    assert chosen == "paper" and "`gpt2` is reachable" in why
