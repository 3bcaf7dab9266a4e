"""The chapters show no absolute path: a reader sees paths relative to the repository
(``site.display.shown_path``), never this machine's folders.

Read from each notebook's source (and any outputs): string literals and markdown that spell an
absolute path in any form (``/root``, ``/home/...``, ``/tmp``, ``/work``, any other
``/folder``, ``C:\\``, a UNC share, ``~/``), the repository's own path or the home folder,
and calls that make a path absolute (``resolve``, ``absolute``, ``abspath``, ``realpath``,
``cwd``, ``getcwd``, ``home``, ``expanduser``, ``gettempdir``, ``mkdtemp``, ``__file__``)
unless their value goes straight into ``shown_path``. The built pages are checked again by
the book build (``site.book.check_html``).
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# an absolute path spelled in text: a POSIX folder (not part of a URL, a relative path or
# a fraction), a Windows drive or UNC share, or a home-relative "~/"
ABSOLUTE_RE = re.compile(
    r"(?<![\w.:/~<\\-])(?:/[A-Za-z_.][\w.-]*(?:/[\w.-]*)*|[A-Za-z]:[\\/][^\s\"']*"
    r"|\\\\[\w.-]+\\[^\s\"']*|~[\w.-]*/[^\s\"']*)"
)
MAKES_ABSOLUTE = {
    "resolve",
    "absolute",
    "abspath",
    "realpath",
    "cwd",
    "getcwd",
    "home",
    "expanduser",
    "gettempdir",
    "mkdtemp",
    "TemporaryDirectory",
}


def _machine_paths() -> list[str]:
    return [str(ROOT), str(Path.home())]


def _in_shown_path(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "shown_path":
                return True
    return False


def code_findings(source: str) -> list[str]:
    """Absolute paths a code cell spells or makes (see the module docstring)."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += ABSOLUTE_RE.findall(node.value)
            found += [p for p in _machine_paths() if p in node.value]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in MAKES_ABSOLUTE and not _in_shown_path(node, parents):
                found.append(f"{name}()")
        elif isinstance(node, ast.Name) and node.id == "__file__":
            found.append("__file__")
    return found


def text_findings(text: str) -> list[str]:
    """Absolute paths spelled in markdown or an output."""
    without_urls = re.sub(r"\b[a-z][a-z0-9+.-]*://\S+", "", text)
    return ABSOLUTE_RE.findall(without_urls) + [p for p in _machine_paths() if p in text]


def notebook_findings(path: Path) -> list[str]:
    found = []
    for index, cell in enumerate(json.loads(path.read_text(encoding="utf-8"))["cells"]):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code":
            hits = code_findings(source)
            for output in cell.get("outputs", []):
                hits += text_findings(json.dumps(output))
        else:
            hits = text_findings(source)
        found += [f"cell {index}: {hit}" for hit in hits]
    return found


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_show_no_absolute_path(nb):
    assert notebook_findings(nb) == []


SPELLED = [
    "/root/.cache/layerwise",
    "/home/ana/results",
    "/tmp/x.csv",
    "/work/clone/results/offline/cwe_geometry.csv",
    "/Users/ana/layerwise",
    "/opt/data",
    "C:\\Users\\ana\\results",
    "D:/results/tiny",
    "\\\\server\\share\\results",
    "~/.cache/layerwise",
    "~ana/results",
]


@pytest.mark.parametrize("path", SPELLED)
def test_every_spelling_of_an_absolute_path_is_found(path):
    assert code_findings(f"table = read({path!r})") != []
    assert text_findings(f"The table is in {path}.") != []


@pytest.mark.parametrize(
    "code",
    [
        "p = Path('results').resolve()",
        "print(os.path.abspath('results'))",
        "here = Path.cwd() / 'results'",
        "folder = os.path.expanduser(cache)",
        "home = Path.home()",
        "scratch = tempfile.mkdtemp()",
        "root = Path(__file__).parent",
    ],
)
def test_a_call_that_makes_a_path_absolute_is_found(code):
    assert code_findings(code) != []


def test_the_repository_and_home_paths_are_found_in_any_text():
    for path in _machine_paths():
        assert text_findings(f"written under {path}") != []
        assert code_findings(f"x = 'cache={path}'") != []


@pytest.mark.parametrize(
    "code",
    [
        "display.show(display.shown_path(Path(cfg.results_dir).resolve()))",
        "table = read('results/offline/cwe_geometry.csv')",
        "ratio = a / b",
        "url = 'https://huggingface.co/gpt2'",
        "label = 'and/or'",
        "parts = name.split('/')",
    ],
)
def test_relative_paths_urls_and_shown_paths_are_not_flagged(code):
    assert code_findings(code) == []


def test_markdown_links_and_relative_paths_are_not_flagged():
    text = (
        "See [the paper](https://aclanthology.org/2022.acl-long.xyz/) and "
        "`results/offline/sts.csv`, layer 3/12, the input/output pairs, ../book/intro.md, "
        "CLIP marks a word end with `</w>`."
    )
    assert text_findings(text) == []
