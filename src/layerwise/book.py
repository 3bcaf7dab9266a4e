"""Build the book: execute each notebook once with papermill, then render with jupyter-book.

Source notebooks (``notebooks/``) stay clean. Executed copies go to a staging
folder ``_build/src`` beside the book's pages and configuration, and
jupyter-book renders that folder with execution off, strictly (``-n -W
--keep-going``): any notebook error or Sphinx warning fails the build. The site
lands in ``_build/html``; per-notebook wall times in ``_build/timings.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from .errors import InputError
from .runs import REVISIONS_ENV, RunConfig

STAGE = Path("_build") / "src"
COPY = ("_config.yml", "_toc.yml", "book")


def notebook_order(root: Path) -> list[Path]:
    """Notebooks in the order ``_toc.yml`` lists them."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    files: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return [root / f"{f}.ipynb" for f in files if (root / f"{f}.ipynb").exists()]


def execute_notebooks(cfg: RunConfig, root: Path, stage: Path) -> dict[str, float]:
    """Run every notebook once with papermill into ``stage``; return wall times."""
    import papermill

    params = {
        "profile": cfg.concrete_profile,
        "scale": cfg.scale,
        "seed": cfg.seed,
        "device": cfg.device,
        "batch_size": cfg.batch_size,
        "results_dir": str((root / cfg.results_dir).resolve()),
        "cache_dir": cfg.cache_dir or "",
    }
    timings: dict[str, float] = {}
    for nb in notebook_order(root):
        rel = nb.relative_to(root)
        out = stage / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        print(f"executing {rel} (profile={params['profile']}, scale={cfg.scale})", flush=True)
        papermill.execute_notebook(
            str(nb),
            str(out),
            parameters=params,
            cwd=str(nb.parent),
            progress_bar=False,
            kernel_name="python3",
        )
        timings[str(rel)] = round(time.perf_counter() - start, 1)
    return timings


def build_book(cfg: RunConfig, root: Path | None = None) -> Path:
    """Execute the notebooks and build ``_build/html``; returns the index page."""
    root = (root or Path.cwd()).resolve()
    if not (root / "_toc.yml").exists():
        raise InputError(f"{root} has no _toc.yml: run `layerwise book` from the repository root")
    cfg.validate()
    if cfg.revisions:  # the notebooks' kernels inherit the pins
        os.environ[REVISIONS_ENV] = " ".join(f"{k}={v}" for k, v in cfg.revisions.items())
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    stage = root / STAGE
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    for name in COPY:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, stage / name)
        else:
            shutil.copy2(src, stage / name)
    start = time.perf_counter()
    timings = execute_notebooks(cfg, root, stage)
    timings["notebooks_total"] = round(time.perf_counter() - start, 1)
    cmd = [
        str(Path(bin_dir) / "jupyter-book"),
        "build",
        str(stage),
        "--path-output",
        str(root),
        "--builder",
        "html",
        "-n",
        "-W",
        "--keep-going",
    ]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=root)
    timings["jupyter_book"] = round(time.perf_counter() - start, 1)
    timings |= {"profile": cfg.concrete_profile, "scale": cfg.scale}
    (root / "_build" / "timings.json").write_text(json.dumps(timings, indent=2))
    index = root / "_build" / "html" / "index.html"
    print(f"built {index}")
    return index
