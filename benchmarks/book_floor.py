"""Benchmark: a cold book build beside its forward-pass floor, measured in one run.

For ``--profile`` (default ``offline``) at ``--scale`` (default ``full``), on this machine:

1. **floor** (before): the minimal set of forward passes the book needs. The book's
   extractions are listed per model (the jobs of its plan,
   :func:`layerwise.pipeline.book_plan.book_jobs`). Each needed token sequence then runs
   once: a causal model's prefixes are read from the longer input, and batches hold inputs
   of one length, so no token is padding (:func:`layerwise.store.plan.make_plan`, then
   ``extract(..., padding=False)``). Only the model's own forward calls are timed (forward
   pre-hook to forward hook), with the weights already loaded.
2. **book**: ``python -m layerwise book --no-reuse`` with a fresh, empty cache and results
   folder: every chapter executes, the extraction plan runs cold, the site is built. Wall
   time of the whole command, and the plan's and each chapter's time from its log.
3. **floor** (after): step 1 again. A shared machine's load can change during the build;
   the two floors show by how much.

Prints ``book / floor`` (the floor being the mean of the two) and writes the figures to
``--json``. Usage: ``python benchmarks/book_floor.py --profile offline --scale full``
(about 30 min on 2 cores). The book is built in this checkout (``_build/``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def floor(profile: str, scale: str, cache_dir: str) -> dict:
    """Seconds of the forward calls of the book's minimal set, per model, and its tokens."""
    import torch

    from layerwise.extract.batched import extract
    from layerwise.pipeline.book_plan import book_jobs
    from layerwise.pipeline.config import RunConfig
    from layerwise.store.plan import make_plan

    cfg = RunConfig(profile=profile, scale=scale, cache_dir=cache_dir)
    s = cfg.options()
    out: dict = {}
    for lm, jobs in book_jobs(cfg):
        plan = make_plan(lm, jobs)
        lm.model  # noqa: B018 - load the weights before the clock starts
        clock = {"seconds": 0.0, "calls": 0}

        def start(module, args, kwargs, clock=clock):
            clock["t"] = time.perf_counter()

        def stop(module, args, kwargs, output, clock=clock):
            clock["seconds"] += time.perf_counter() - clock["t"]
            clock["calls"] += 1

        handles = [
            lm.model.register_forward_pre_hook(start, with_kwargs=True),
            lm.model.register_forward_hook(stop, with_kwargs=True),
        ]
        try:
            with torch.inference_mode():
                extract(lm, plan.requests, batch_size=s.batch_size, padding=False, progress=False)
        finally:
            for h in handles:
                h.remove()
        out[lm.spec.name] = {
            "tokens": plan.tokens,
            "calls": clock["calls"],
            "seconds": clock["seconds"],
        }
        del lm
    out["total"] = {k: sum(v[k] for v in out.values()) for k in ("tokens", "calls", "seconds")}
    return out


def book(profile: str, scale: str, cache_dir: str, results: str) -> dict:
    """Wall seconds of a cold ``layerwise book`` and its plan's and chapters' seconds."""
    cmd = [
        sys.executable, "-m", "layerwise", "book", "--profile", profile, "--scale", scale,
        "--no-reuse", "--cache-dir", cache_dir, "--out", results,
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env=os.environ | {"TQDM_DISABLE": "1"}
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"the book build failed (exit {done.returncode})")
    log = done.stdout + done.stderr
    plan = re.search(r"extraction plan: (\d+) extractions in ([\d.]+)s", log)
    chapters = {
        m.group(2): float(m.group(1))
        for m in re.finditer(r"^\s*([\d.]+) s\s+(notebooks/\S+) done", log, re.M)
    }
    return {
        "seconds": seconds,
        "plan extractions": int(plan.group(1)) if plan else None,
        "plan seconds": float(plan.group(2)) if plan else None,
        "chapters seconds": chapters,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="offline")
    parser.add_argument("--scale", default="full", choices=["full", "reduced"])
    parser.add_argument("--json", default="_build/book_floor.json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lw-book-floor-") as tmp:
        specs = str(Path(tmp) / "specs")  # the floor's own cache: specs only, no entries
        before = floor(args.profile, args.scale, specs)
        print(f"floor before: {before['total']}", flush=True)
        built = book(args.profile, args.scale, str(Path(tmp) / "cache"), str(Path(tmp) / "out"))
        print(f"book: {built['seconds']:.0f}s (plan {built['plan seconds']}s)", flush=True)
        after = floor(args.profile, args.scale, specs)
        print(f"floor after: {after['total']}", flush=True)
    mean = (before["total"]["seconds"] + after["total"]["seconds"]) / 2
    report = {
        "profile": args.profile,
        "scale": args.scale,
        "floor before": before,
        "book": built,
        "floor after": after,
        "book / floor": built["seconds"] / mean,
        "plan / floor": (built["plan seconds"] or 0) / mean,
    }
    print(
        f"\n{args.profile} ({args.scale}): cold book {built['seconds']:.0f} s; forward-pass "
        f"floor {before['total']['seconds']:.0f} s before, {after['total']['seconds']:.0f} s "
        f"after ({before['total']['tokens']:,} tokens); book / floor = "
        f"{report['book / floor']:.2f}x; the book's extraction plan "
        f"{built['plan seconds']} s = {report['plan / floor']:.2f}x the floor"
    )
    for name, sec in built["chapters seconds"].items():
        print(f"  {name}: {sec:.0f} s")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=1))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
