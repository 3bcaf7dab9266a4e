"""The code a result depends on: the import closure of a module inside the package, hashed.

A cached table, a bootstrap interval or an executed chapter is keyed by the code that
computes it, not by every file of the package (chapter 2, "the cache"): the modules its
producing module imports, transitively, read statically with ``ast`` (nothing is
imported, so torch is never loaded), plus the vendored data's checksums
(``datasets/SHA256SUMS``). Editing the prose of a chapter (``report/prose``) then changes
no key of a number, and editing an estimator in ``stats/`` changes the key of every number
it feeds.

What counts as an import: ``import layerwise.x``, ``from layerwise.x import y`` and
relative imports, at any depth (inside functions, ``if TYPE_CHECKING:`` blocks, try/except),
and ``importlib.import_module("layerwise.x")`` with a literal name. ``from package import
name`` counts the submodule ``package.name`` when there is one, else the package's
``__init__``; a package ``__init__`` whose lazy names (PEP 562) come from a table
``_EXPORTS`` (name -> submodule) counts the submodules the table names, and one that
defines a module ``__getattr__`` without such a table counts every module directly in its
package, since any of them may be loaded through it. A parent package's ``__init__`` is
not counted merely because a module below it is imported (it holds re-exports, not
computations). Only modules of ``layerwise`` count: the installed libraries are in the
model's identity
(``layerwise.models.fingerprint.code_version``) and the chapters' keys.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

PACKAGE = "layerwise"
#: The installed package's folder, read at each call when no ``package_dir`` is given (tests
#: point it at a copy of the package).
PACKAGE_DIR = Path(__file__).resolve().parent
#: The vendored data's checksums, part of every code digest.
DATA_SUMS = Path("datasets") / "SHA256SUMS"

_parsed: dict[tuple[Path, int, int], frozenset[str]] = {}


def module_file(name: str, package_dir: Path | None = None) -> Path | None:
    """The file of module ``name`` (``layerwise.a.b``) under ``package_dir``: ``a/b.py`` or
    ``a/b/__init__.py``; None when the package has no such module."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = Path(PACKAGE_DIR if package_dir is None else package_dir).joinpath(*parts[1:])
    for path in (base.with_suffix(".py") if parts[1:] else None, base / "__init__.py"):
        if path is not None and path.is_file():
            return path
    return None


def _absolute(name: str, level: int, package: str) -> str | None:
    """The absolute name of ``from <level dots><name>`` written in ``package``."""
    if level == 0:
        return name
    base = package.split(".")
    if level - 1 >= len(base):
        return None
    return ".".join(base[: len(base) - (level - 1)] + ([name] if name else []))


def _imports(name: str, path: Path, package_dir: Path) -> frozenset[str]:
    """Modules of the package that module ``name`` (file ``path``) imports directly."""
    stat = path.stat()
    memo_key = (path, stat.st_mtime_ns, stat.st_size)
    if memo_key in _parsed:
        return _parsed[memo_key]
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as err:
        raise InputError(f"cannot read the imports of {path}: {err}; fix its syntax") from err
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()

    def add(candidate: str | None) -> None:
        if candidate and module_file(candidate, package_dir) is not None:
            found.add(candidate)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", node.level, package)
            if base is None:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                add(sub if module_file(sub, package_dir) is not None else base)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            add(node.args[0].value)
    lazy = any(isinstance(n, ast.FunctionDef) and n.name == "__getattr__" for n in tree.body)
    exports = _lazy_exports(tree) if is_package else None
    if exports is not None:  # a table of lazy names: exactly the modules it names
        for module in exports:
            add(f"{name}.{module}")
    elif is_package and lazy:
        for child in sorted(path.parent.iterdir()):
            if child.suffix == ".py" and child.name != "__init__.py":
                add(f"{name}.{child.stem}")
            elif (child / "__init__.py").is_file():
                add(f"{name}.{child.name}")
    found.discard(name)
    _parsed[memo_key] = frozenset(found)
    return _parsed[memo_key]


def _lazy_exports(tree: ast.Module) -> list[str] | None:
    """The modules a package ``__init__``'s lazy-name table names: a module-level
    ``_EXPORTS = {"name": "sub.module", ...}`` of string literals (the convention of
    ``layerwise/__init__.py`` and ``layerwise/models/__init__.py``), relative to the
    package; None when there is no such table."""
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "_EXPORTS" and node.value is not None:
            try:
                table = ast.literal_eval(node.value)
            except ValueError:
                return None
            if isinstance(table, dict) and all(isinstance(v, str) for v in table.values()):
                return sorted(set(table.values()))
    return None


def closure(roots: Iterable[str], package_dir: Path | None = None) -> list[str]:
    """Every module of the package that the modules ``roots`` import, transitively, the
    roots included (sorted dotted names). Raises :class:`~layerwise.errors.InputError`
    for a root that is not a module of the package, or a module that does not parse."""
    package_dir = Path(PACKAGE_DIR if package_dir is None else package_dir)
    todo = list(roots)
    for root in todo:
        if module_file(root, package_dir) is None:
            raise InputError(
                f"{root!r} is not a module of {package_dir}: a result's code is the "
                f"closure of a module of the {PACKAGE} package (e.g. 'layerwise.stats.scores')"
            )
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(_imports(name, module_file(name, package_dir), package_dir) - seen)
    return sorted(seen)


def code_digest(roots: Iterable[str], package_dir: Path | None = None) -> str:
    """sha256 (16 hex digits) of the source of :func:`closure` of ``roots`` and of the
    data checksums: the identity of the code that computes a result. Files are read on
    every call, so an edit is seen at once."""
    package_dir = Path(PACKAGE_DIR if package_dir is None else package_dir)
    h = hashlib.sha256()
    for name in closure(roots, package_dir):
        path = module_file(name, package_dir)
        h.update(json.dumps([name, path.name]).encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    sums = package_dir / DATA_SUMS
    if sums.is_file():
        h.update(sums.read_bytes())
    return h.hexdigest()[:16]


def source_digest(name: str, package_dir: Path | None = None) -> str:
    """sha256 (16 hex digits) of module ``name``'s own file, not of what it imports: the
    identity of glue code (the table registry) whose callees are keyed by their closures.
    Raises :class:`~layerwise.errors.InputError` for a name that is not a module of the
    package."""
    path = module_file(name, package_dir)
    if path is None:
        raise InputError(f"{name!r} is not a module of the {PACKAGE} package")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def notebook_modules(notebook: Path, package_dir: Path | None = None) -> list[str]:
    """The package's modules a notebook's code cells import (``import layerwise.x``,
    ``from layerwise.x import y``), sorted. Cell lines of IPython syntax (``%magic``,
    ``!shell``) are skipped; raises :class:`~layerwise.errors.InputError` for a notebook
    that is not JSON or a code cell that does not parse."""
    package_dir = Path(PACKAGE_DIR if package_dir is None else package_dir)
    try:
        cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError) as err:
        raise InputError(f"cannot read the cells of notebook {notebook}: {err}") from err
    found: set[str] = set()
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        lines = (source if isinstance(source, str) else "".join(source)).splitlines()
        code = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
        try:
            tree = ast.parse(code)
        except SyntaxError as err:
            raise InputError(f"a code cell of {notebook} does not parse: {err}") from err
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                names = [n if module_file(n, package_dir) else node.module for n in names]
            else:
                continue
            found.update(n for n in names if module_file(n, package_dir) is not None)
    return sorted(found)
