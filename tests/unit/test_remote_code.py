"""No model's own code ever runs: every ``from_pretrained`` call in the package passes
``trust_remote_code=False``, read from the source (so a call that no test reaches is checked
too; tests/models/test_loading.py checks the behaviour on a folder with custom code).

A call passes when the flag is a keyword of the call, or when it unpacks a dict
(``**kwargs``) built in the same function with ``"trust_remote_code": False``, or when that
dict is a parameter of the function and every call of the function in the package passes
such a dict for it.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

PACKAGE = Path(
    os.environ.get("LAYERWISE_PACKAGE_DIR")
    or Path(__file__).resolve().parents[2] / "src" / "layerwise"
)


def _false_flag(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _flagged_dict(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Dict) and any(
        isinstance(k, ast.Constant) and k.value == "trust_remote_code" and _false_flag(v)
        for k, v in zip(node.keys, node.values, strict=True)
    )


def _flagged_names(func: ast.AST) -> set[str]:
    """Names bound in ``func`` to a dict literal holding ``"trust_remote_code": False``."""
    names = set()
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and _flagged_dict(node.value):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and _flagged_dict(node.value):
            if isinstance(node.target, ast.Name):
                names.add(node.target.id)
    return names


def _enclosing_functions(tree: ast.AST) -> dict[ast.AST, ast.FunctionDef]:
    """Each node -> the innermost function definition around it."""
    owner: dict[ast.AST, ast.FunctionDef] = {}

    def visit(node: ast.AST, func: ast.FunctionDef | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            if func is not None:
                owner[child] = func
            visit(child, inner)

    visit(tree, None)
    return owner


def unflagged_calls(package: Path) -> tuple[list[str], int]:
    """``from_pretrained`` calls of ``package`` not tied to ``trust_remote_code=False``
    (``path:line``), and the number of calls checked."""
    trees = {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(package.rglob("*.py"))}
    owners = {p: _enclosing_functions(t) for p, t in trees.items()}
    # every call of a function by its name anywhere in the package: (call, caller)
    calls_of: dict[str, list[tuple[ast.Call, ast.AST]]] = {}
    for p, tree in trees.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                calls_of.setdefault(node.func.id, []).append((node, owners[p].get(node, tree)))

    def passes_flagged(func: ast.FunctionDef, name: str) -> bool:
        params = [a.arg for a in func.args.args]
        if name not in params:
            return False
        index = params.index(name)
        sites = calls_of.get(func.name, [])
        for call, caller in sites:
            given = {k.arg: k.value for k in call.keywords if k.arg}
            arg = call.args[index] if index < len(call.args) else given.get(name)
            if not (
                _flagged_dict(arg)
                or (isinstance(arg, ast.Name) and arg.id in _flagged_names(caller))
            ):
                return False
        return bool(sites)

    bad, checked = [], 0
    for p, tree in trees.items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr != "from_pretrained":
                continue
            checked += 1
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            if "trust_remote_code" in keywords:
                ok = _false_flag(keywords["trust_remote_code"])
            else:
                func = owners[p].get(node)
                ok = False
                for k in node.keywords:
                    if k.arg is None and isinstance(k.value, ast.Name) and func is not None:
                        ok = ok or k.value.id in _flagged_names(func)
                        ok = ok or passes_flagged(func, k.value.id)
            if not ok:
                bad.append(f"{p.relative_to(package).as_posix()}:{node.lineno}")
    return bad, checked


def test_every_from_pretrained_call_passes_trust_remote_code_false():
    bad, checked = unflagged_calls(PACKAGE)
    assert checked > 0, f"no from_pretrained call found under {PACKAGE}"
    assert bad == [], (
        "from_pretrained without trust_remote_code=False (a model's own code could run): "
        + ", ".join(bad)
    )


FAKE = {
    "keyword": ("AutoModel.from_pretrained(f, trust_remote_code=False)\n", True),
    "keyword true": ("AutoModel.from_pretrained(f, trust_remote_code=True)\n", False),
    "missing": ("AutoTokenizer.from_pretrained(f, local_files_only=True)\n", False),
    "dict in the function": (
        "kwargs = {'dtype': 1, 'trust_remote_code': False}\n"
        "AutoModel.from_pretrained(f, **kwargs)\n",
        True,
    ),
    "dict without the flag": (
        "kwargs = {'dtype': 1}\nAutoModel.from_pretrained(f, **kwargs)\n",
        False,
    ),
    "dict of another function": (
        "AutoModel.from_pretrained(f, **kwargs)\n",
        False,
    ),
}


@pytest.mark.parametrize("case", FAKE, ids=list(FAKE))
def test_the_check_ties_the_flag_to_each_call(tmp_path, case):
    body, passes = FAKE[case]
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    (tmp_path / "m.py").write_text(
        "kwargs = {'trust_remote_code': False}\n\n\ndef load(f):\n" + indented
    )
    bad, checked = unflagged_calls(tmp_path)
    assert checked == 1
    assert (bad == []) is passes, bad


@pytest.mark.parametrize(("flag", "passes"), [("False", True), ("True", False)])
def test_a_dict_passed_in_is_checked_at_every_call_site(tmp_path, flag, passes):
    (tmp_path / "m.py").write_text(
        "def weights(f, kwargs):\n"
        "    return AutoModel.from_pretrained(f, **kwargs)\n\n\n"
        "def load(f):\n"
        "    kwargs = {'trust_remote_code': False}\n"
        "    weights(f, kwargs)\n\n\n"
        "def other(f):\n"
        f"    options = {{'trust_remote_code': {flag}}}\n"
        "    weights(f, kwargs=options)\n"
    )
    bad, _ = unflagged_calls(tmp_path)
    assert (bad == []) is passes, bad
