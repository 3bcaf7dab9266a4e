"""Project-level checks: the lock and its conda mirror agree, notebooks are clean
and parameterised, the book's table of contents points at files that exist."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PARAMETERS = {
    *("profile", "scale", "seed", "device", "dtype", "device_map", "max_memory"),
    *("offload_folder", "batch_size", "results_dir", "cache_dir"),
}


def _pins(lines: list[str]) -> set[str]:
    return {line.strip() for line in lines if re.match(r"^[A-Za-z0-9_.\-]+==", line.strip())}


def test_environment_yml_mirrors_the_lock():
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip) == lock
    assert any(p.startswith("torch==") for p in lock)


def test_lock_pins_every_runtime_dependency():
    lock = {
        p.split("==")[0].lower().replace("_", "-")
        for p in _pins((ROOT / "requirements.lock").read_text().splitlines())
    }
    for name in (
        "torch",
        "transformers",
        "numpy",
        "scipy",
        "jupyter-book",
        "papermill",
        "gguf",
        "accelerate",
        "matplotlib",
        "pandas",
        "tqdm",
        "sphinx-exercise",
        "jupyterlab-myst",
        "dask",
        "distributed",
    ):
        assert name in lock, name


def test_seven_notebooks_in_toc_order_and_all_toc_files_exist():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    assert [f for f in files if f.startswith("notebooks/")] == [
        f"notebooks/{p.stem}" for p in NOTEBOOKS
    ]
    assert len(NOTEBOOKS) == 7
    for f in [toc["root"], *files]:
        assert (ROOT / f"{f}.ipynb").exists() or (ROOT / f"{f}.md").exists(), f


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_clean_and_parameterised(path: Path):
    nb = json.loads(path.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    first = code[0]
    assert "parameters" in first.get("metadata", {}).get("tags", [])
    names = set(re.findall(r"^(\w+)\s*=", "".join(first["source"]), flags=re.M))
    assert names == PARAMETERS
    text = "".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    for section in ("## Prerequisites", "## Summary", "## References"):
        assert section in text, section
    assert "def " not in "".join("".join(c["source"]) for c in code)
    assert "sys.path" not in "".join("".join(c["source"]) for c in code)


def _readme_commands() -> list[list[str]]:
    """The commands of the README's "Two commands" block, as argument lists."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Two commands\s+```bash\n(.*?)```", readme, re.S)
    assert block, "README.md has no '## Two commands' bash block"
    return [shlex.split(line, comments=True) for line in block.group(1).splitlines() if line]


def _ci_make_goals() -> list[list[str]]:
    """The goals of each make run in .ci/run (variables and options left out)."""
    runs = []
    for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["make"]:
            runs.append([w for w in words[1:] if not w.startswith(("-", "$")) and "=" not in w])
    return runs


def _pytest_files(goals: list[str]) -> Counter:
    """How many times each test file runs when make runs ``goals`` (read from the recipes
    ``make -n`` prints: pytest's paths and --ignore options)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ARGS", "MAKEFLAGS")}
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", *goals],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    runs: Counter = Counter()
    for line in out.splitlines():
        words = shlex.split(line)
        if "pytest" not in words:
            continue
        args = words[words.index("pytest") + 1 :]
        ignored = [ROOT / a.split("=", 1)[1] for a in args if a.startswith("--ignore=")]
        for arg in args:
            if arg.startswith("-"):
                continue
            path = ROOT / arg
            found = [path] if path.is_file() else sorted(path.rglob("test_*.py"))
            for f in found:
                if not any(f.is_relative_to(i) for i in ignored):
                    runs[f.relative_to(ROOT).as_posix()] += 1
    return runs


TEST_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py"))


def test_the_readme_test_command_runs_the_fast_tiers_and_ci_runs_it():
    commands = _readme_commands()
    assert ["make", "book"] in commands
    (test_command,) = [c for c in commands if c[:2] == ["make", "test"]]
    fast = _pytest_files(test_command[1:])
    assert set(fast) == {f for f in TEST_FILES if f.split("/")[1] not in ("book", "slow")}
    assert all(n == 1 for n in fast.values()), fast
    ci = _ci_make_goals()
    assert any(test_command[1] in goals for goals in ci), f".ci/run runs make {ci}"


def test_ci_and_make_test_all_run_every_test_file_exactly_once():
    ci_runs: Counter = Counter()
    for goals in _ci_make_goals():
        ci_runs += _pytest_files(goals)
    everything = _pytest_files(["test-all"])
    for runs in (ci_runs, everything):
        assert sorted(runs) == TEST_FILES
        assert {f: n for f, n in runs.items() if n != 1} == {}
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in ci  # a failing make run fails CI
