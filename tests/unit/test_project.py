"""Project-level checks: the lock and its conda mirror agree, notebooks are clean
and parameterised, the book's table of contents points at files that exist."""

from __future__ import annotations

import json
import re
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


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make test" in ci and "make test" in readme and "make book" in readme
