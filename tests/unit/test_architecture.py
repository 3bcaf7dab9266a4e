"""Architecture test: the package's modules import only downwards and never in a cycle.

Every ``.py`` file of the package is parsed with ``ast`` (nothing is imported, so torch is never
loaded) and every import of the package's own modules is collected: ``import x``,
``from x import y`` and relative imports, at any depth (inside functions, methods,
``if TYPE_CHECKING:`` blocks, try/except) and ``importlib.import_module("literal")`` calls.
Each module gets the layer of its first component after ``layerwise.`` (``LAYERS``). A module may
import from its own layer or below, never above; and the module graph has no cycle.

The checks take a package directory, so they can be pointed at another tree, e.g.
``LAYERWISE_PACKAGE_DIR=/other/src/layerwise pytest tests/unit/test_architecture.py``.
"""

from __future__ import annotations

import ast
import importlib.util
import os
from collections import deque
from pathlib import Path

import pytest

PACKAGE = "layerwise"

# Layer of each module, by its first component after ``layerwise.`` (bottom layer first; see the
# target layout of issue 13). A module may import its own layer and lower ones, never higher.
LAYERS = {
    "errors": 0,  # exceptions
    "files": 1,  # sha256_file, atomic writes and folder replace, repository_root, package_versions
    "locks": 1,  # folder_lock: one run per build or results folder (fcntl.flock + holder record)
    "closure": 1,  # import closure of a module and its code digest (cache and reuse keys)
    "tidy": 2,  # select(df, **eq): row filter of tidy tables (pandas only)
    "data": 3,  # integrity, sts, words, window, overview, registry (DATASETS), reference values
    "stats": 4,  # geometry, isotropy, postprocess, paired, correlation, scores (numpy/scipy only)
    "models": 5,  # spec, tokenizers, fingerprint, standin, hub, device, sources, weights, ...
    "extract": 6,  # requests (Request, settings), batched (extract), states (Extracted)
    "store": 7,  # cache (arrays, tables, JSON), keys (key_of, cache_key), cached (get-or-compute)
    "measure": 8,  # common (MeasureOptions, per-layer rows), cwe, words, sentences, ablations, ...
    "report": 10,  # provenance, layers, table1, claims, text (fmt, format_ci), figures
    "pipeline": 11,  # profiles, config (RunConfig), tables (compute_table), reproduce, compare
    "site": 12,  # book, build_report, display
    "platform": 13,  # fenced: conformance, models page, rehearsal, Dask sweeps (FENCED below)
    "cli": 14,  # command line
    "__main__": 14,  # python -m layerwise
    "__init__": 15,  # layerwise/__init__.py: the public API, names imported on first use
    "experiments": 15,  # the old facade: warns and hands out the names (one release)
}
#: Subpackages the core never imports: only the modules named beside each may.
FENCED = {"platform": {"platform", "cli", "__main__"}}
UNKNOWN = "add it to LAYERS in tests/unit/test_architecture.py"


def default_package_dir() -> Path:
    """The installed package's directory (found without importing it), or $LAYERWISE_PACKAGE_DIR."""
    if os.environ.get("LAYERWISE_PACKAGE_DIR"):
        return Path(os.environ["LAYERWISE_PACKAGE_DIR"])
    return Path(importlib.util.find_spec(PACKAGE).submodule_search_locations[0])


def package_modules(package_dir) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``package_dir``."""
    package_dir = Path(package_dir)
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join((PACKAGE, *parts))] = path
    return modules


def _resolve(name: str, level: int, package: str) -> str | None:
    """Absolute dotted name of ``from <level dots><name>`` in ``package``; None if it escapes."""
    if level == 0:
        return name
    base = package.split(".")
    if level - 1 >= len(base):
        return None
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def import_graph(package_dir=None) -> list[tuple[str, str, Path, int]]:
    """Every import of the package by the package: (importer, imported, path, line)."""
    modules = package_modules(package_dir or default_package_dir())
    edges = []
    for module, path in modules.items():
        is_init = path.name == "__init__.py"
        package = module if is_init else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module or "", node.level, package)
                # ``from x import y``: the submodule x.y when y is one, the module x otherwise
                targets = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            elif _is_import_module_call(node):
                arg = node.args[0].value
                level = len(arg) - len(arg.lstrip("."))
                targets = [_resolve(arg[level:], level, package)]
            for target in dict.fromkeys(targets):  # once per statement
                if target and (target == PACKAGE or target.startswith(PACKAGE + ".")):
                    edges.append((module, target, path, node.lineno))
    return sorted(edges, key=lambda edge: (str(edge[2]), edge[3], edge[1]))


def _is_import_module_call(node: ast.AST) -> bool:
    """``importlib.import_module("literal", ...)`` or ``import_module("literal", ...)``."""
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    arg = node.args[0]
    return name == "import_module" and isinstance(arg, ast.Constant) and isinstance(arg.value, str)


def layer_of(module: str) -> int | None:
    """The layer of a dotted module name of the package, None if its first component is unknown."""
    first = module.split(".")[1] if "." in module else "__init__"
    return LAYERS.get(first)


def layer_violations(package_dir=None) -> list[str]:
    """Modules without a layer, then every import that goes up a layer, as ``path:line: ...``."""
    package_dir = package_dir or default_package_dir()
    modules = package_modules(package_dir)
    offences = [
        f"{path}: module {module} has no layer; {UNKNOWN}"
        for module, path in modules.items()
        if layer_of(module) is None
    ]
    for importer, imported, path, line in import_graph(package_dir):
        low, high = layer_of(importer), layer_of(imported)
        if high is None and imported not in modules:
            offences.append(f"{path}:{line}: {importer} -> {imported} (no layer; {UNKNOWN})")
        elif low is not None and high is not None and low < high:
            offences.append(
                f"{path}:{line}: {importer} -> {imported} (layer {low} -> layer {high})"
            )
    return offences


def fence_violations(package_dir=None) -> list[str]:
    """Every import of a fenced subpackage (:data:`FENCED`) by a module not allowed to."""
    offences = []
    for importer, imported, path, line in import_graph(package_dir or default_package_dir()):
        target = imported.split(".")[1] if "." in imported else "__init__"
        source = importer.split(".")[1] if "." in importer else "__init__"
        allowed = FENCED.get(target)
        if allowed is not None and source not in allowed:
            offences.append(
                f"{path}:{line}: {importer} -> {imported} (the core never imports {target})"
            )
    return offences


def import_cycles(package_dir=None) -> list[list[str]]:
    """Import cycles among the package's modules, each as [a, b, ..., a].

    Tarjan's algorithm finds the strongly connected components; within each, the shortest cycle
    through every module is reported once (so each module on a cycle shows up in at least one).
    """
    graph: dict[str, set[str]] = {}
    for importer, imported, _, _ in import_graph(package_dir):
        graph.setdefault(importer, set()).add(imported)
        graph.setdefault(imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components: list[set[str]] = []

    def strongconnect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                strongconnect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = {stack.pop()}
            while node not in component:
                component.add(stack.pop())
            if len(component) > 1 or node in graph[node]:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            strongconnect(node)

    cycles: list[list[str]] = []
    for component in components:
        for start in sorted(component):
            cycle = _shortest_cycle(graph, component, start)
            rotation = cycle.index(min(cycle[:-1]))
            canonical = cycle[rotation:-1] + cycle[:rotation] + [cycle[rotation]]
            if canonical not in cycles:
                cycles.append(canonical)
    return cycles


def _shortest_cycle(graph: dict[str, set[str]], component: set[str], start: str) -> list[str]:
    """Breadth-first search from ``start`` back to itself, inside one strongly connected set."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for succ in sorted(graph[node] & component):
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if succ not in parent:
                parent[succ] = node
                queue.append(succ)
    raise AssertionError(f"{start} is on no cycle")  # unreachable in a strong component


# ---- the real package (fails until the layered layout of issue 13 is in place) ----------------


@pytest.fixture
def package_dir() -> Path:
    return default_package_dir()


def test_real_package_imports_only_downwards(package_dir):
    offences = layer_violations(package_dir)
    assert not offences, "imports that go up a layer:\n" + "\n".join(offences)


def test_the_core_never_imports_the_platform(package_dir):
    offences = fence_violations(package_dir)
    assert not offences, "the core reaches into the platform:\n" + "\n".join(offences)


def test_real_package_has_no_import_cycles(package_dir):
    cycles = import_cycles(package_dir)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


# ---- the checker itself, on tiny fake packages ---------------------------------------------------


def make_package(root: Path, files: dict[str, str]) -> Path:
    package_dir = root / PACKAGE
    for name, text in files.items():
        path = package_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return package_dir


CLEAN = {
    "__init__.py": '__version__ = "0"\n',
    "errors.py": "class LayerwiseError(Exception):\n    pass\n",
    "data/__init__.py": "from . import words\n",
    "data/words.py": "from ..errors import LayerwiseError\n",
    "models/__init__.py": (
        "def __getattr__(name):\n"
        "    import importlib\n"
        "    return importlib.import_module('.loading', __name__)\n"
    ),
    "models/spec.py": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import layerwise.data\n"
    ),
    "models/loading.py": (
        "from .spec import *\n"
        "try:\n    from layerwise import errors\nexcept ImportError:\n    pass\n"
    ),
    "cli.py": (
        "import json\n\nclass App:\n    def run(self):\n"
        "        from . import data, models\n        from .models.loading import x\n"
    ),
}


def test_import_graph_finds_imports_at_any_depth(tmp_path):
    package_dir = make_package(tmp_path, CLEAN)
    edges = {(a, b, line) for a, b, _, line in import_graph(package_dir)}
    assert edges == {
        ("layerwise.data", "layerwise.data.words", 1),
        ("layerwise.data.words", "layerwise.errors", 1),
        ("layerwise.models", "layerwise.models.loading", 3),
        ("layerwise.models.spec", "layerwise.data", 3),
        ("layerwise.models.loading", "layerwise.models.spec", 1),
        ("layerwise.models.loading", "layerwise.errors", 3),
        ("layerwise.cli", "layerwise.data", 5),
        ("layerwise.cli", "layerwise.models", 5),
        ("layerwise.cli", "layerwise.models.loading", 6),
    }


def test_clean_fake_package_has_no_offences(tmp_path):
    package_dir = make_package(tmp_path, CLEAN)
    assert layer_violations(package_dir) == []
    assert import_cycles(package_dir) == []


def test_fake_upward_import_inside_a_function_is_reported(tmp_path):
    files = dict(CLEAN)
    files["data/words.py"] = (
        "import os\n\ndef f():\n    if os:\n        from ..models import spec\n"
    )
    package_dir = make_package(tmp_path, files)
    path = package_dir / "data" / "words.py"
    assert layer_violations(package_dir) == [
        f"{path}:5: layerwise.data.words -> layerwise.models.spec (layer 3 -> layer 5)"
    ]


def test_fake_core_import_of_the_platform_is_reported(tmp_path):
    files = dict(CLEAN)
    files["platform/__init__.py"] = ""
    files["platform/sweep.py"] = "from ..models import loading\n"  # the platform uses the core
    files["data/words.py"] = "def f():\n    from ..platform import sweep\n"  # a core module
    package_dir = make_package(tmp_path, files)
    assert fence_violations(package_dir) == [
        f"{package_dir / 'data' / 'words.py'}:2: layerwise.data.words -> "
        "layerwise.platform.sweep (the core never imports platform)"
    ]
    files["data/words.py"] = CLEAN["data/words.py"]
    files["cli.py"] = "from .platform import sweep\n"  # the command line may
    assert fence_violations(make_package(tmp_path / "ok", files)) == []


def test_fake_relative_import_cycle_is_reported(tmp_path):
    files = dict(CLEAN)
    files["models/spec.py"] = "def f():\n    from . import loading\n"
    package_dir = make_package(tmp_path, files)
    assert layer_violations(package_dir) == []  # same layer: allowed, but a cycle
    assert import_cycles(package_dir) == [
        ["layerwise.models.loading", "layerwise.models.spec", "layerwise.models.loading"]
    ]


def test_fake_unknown_top_level_module_is_reported(tmp_path):
    files = dict(CLEAN)
    files["evaluation.py"] = "from .errors import LayerwiseError\n"
    package_dir = make_package(tmp_path, files)
    assert layer_violations(package_dir) == [
        f"{package_dir / 'evaluation.py'}: module layerwise.evaluation has no layer; {UNKNOWN}"
    ]


def test_layers_below_models_and_the_profiles_never_import_torch():
    """The statistics, data and table layers run without torch (the ``pure`` tier), and the
    command line reads the profiles without it."""
    import subprocess
    import sys

    modules = [
        "layerwise.stats.correlation",
        "layerwise.stats.scores",
        "layerwise.stats.geometry",
        "layerwise.stats.isotropy",
        "layerwise.stats.postprocess",
        "layerwise.stats.paired",
        "layerwise.data",
        "layerwise.tidy",
        "layerwise.files",
        "layerwise.report.table1",
        "layerwise.report.text",
        "layerwise.pipeline.profiles",
    ]
    code = f"import sys; import {', '.join(modules)}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", out.stdout + out.stderr
