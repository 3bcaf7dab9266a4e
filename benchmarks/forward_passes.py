"""Benchmark: every forward pass a build makes, against the minimal set of passes.

For each profile (``--profile``, default ``tiny offline``: ``tiny`` is the paper's
tokenization, tiny random CLIP + GPT-2 with the real tokenizers; ``offline`` is MiniLM +
SmolLM2) at ``--scale`` (``reduced`` or ``full``), one in-process build against a FRESH,
empty cache (a temporary ``LAYERWISE_CACHE``):

- ``reproduce`` (every table of the registry: chapters 3-6's measured tables, the
  deviations of chapter 6 with its second CWE sample, the authors' STS-B parse, the left
  sentences, ValNorm's ddof check and the leading-space ablation, and the paired claims);
- ``compare`` of the profile's two models and its chapter 7 extras (chapter 7's tables;
  the book's chapter 7 calls the same measurement, ``multi.compare_tables``).

What it does not cover: chapter 2's batching check (32 sentences, extracted twice on
purpose) and the few words and pairs chapter 4's notebook extracts for its examples.

Every forward call of the extraction is logged (``layerwise.extract.batched._pad``, which
builds each batch's ids and attention mask; the model is the one whose extraction is
running, from ``check_window``, which every extraction calls first). Load-time probes are
not counted. Then, per model:

- ``run``: padded tokens of the calls (rows x width);
- ``real``: the tokens of those rows without the padding;
- ``unique``: each distinct token sequence once;
- ``minimal``: ``unique`` less, for a causal model, every sequence that is a prefix of
  another (its states are read from the longer one);
- ``ratio`` = run / minimal, and the excess split into padding (run - real),
  duplicates (real - unique) and causal prefixes (unique - minimal);
- estimated FLOPs: 2 x parameters x tokens (a forward pass's multiply-adds of the weight
  matrices, attention's own cost and the embedding lookup counted as matrix work: an
  estimate, the same for the run and the floor).

Prints one table per profile and writes everything to ``--json``.
Usage: ``python benchmarks/forward_passes.py --profile tiny --scale reduced``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path


def _install_logger(calls: dict, params: dict) -> None:
    """Log every batch the extraction pads: model name -> list of (ids, mask) rows."""
    from layerwise.extract import batched

    current: dict = {}
    real_check, real_pad = batched.check_window, batched._pad

    def check_window(lm, requests):
        current["name"] = lm.spec.name
        if lm.spec.name not in params:
            params[lm.spec.name] = (
                sum(p.numel() for p in lm.model.parameters()),
                bool(lm.spec.causal),
            )
        return real_check(lm, requests)

    def pad(*args, **kwargs):
        ids, mask = real_pad(*args, **kwargs)
        calls[current["name"]].append((ids.cpu().numpy(), mask.cpu().numpy()))
        return ids, mask

    batched.check_window = check_window
    batched._pad = pad


def minimal_tokens(sequences: list[tuple[int, ...]], causal: bool) -> tuple[int, int]:
    """(tokens of the distinct sequences, tokens of the minimal set): a causal model's
    sequence that is a prefix of another (or equal to it) needs no pass of its own."""
    distinct = set(sequences)
    unique = sum(len(s) for s in distinct)
    if not causal:
        return unique, unique
    prefixes: set[tuple[int, ...]] = set()
    for s in sorted(distinct, key=len, reverse=True):
        if s in prefixes:
            continue
        for k in range(1, len(s)):
            prefixes.add(s[:k])
    return unique, sum(len(s) for s in distinct if s not in prefixes)


def summarize(calls: dict, params: dict) -> dict:
    out = {}
    for name, batches in calls.items():
        run = real = 0
        seqs = []
        for ids, mask in batches:
            run += ids.size
            for row, m in zip(ids, mask, strict=True):
                n = int(m.sum())
                real += n
                seqs.append(tuple(int(t) for t in row[:n]))
        n_params, causal = params[name]
        unique, minimal = minimal_tokens(seqs, causal)
        out[name] = {
            "causal": causal,
            "params": n_params,
            "calls": len(batches),
            "run": run,
            "real": real,
            "unique": unique,
            "minimal": minimal,
            "padding": run - real,
            "duplicates": real - unique,
            "causal prefixes": unique - minimal,
            "ratio": run / minimal if minimal else float("nan"),
            "gflops run": 2 * n_params * run / 1e9,
            "gflops minimal": 2 * n_params * minimal / 1e9,
        }
    keys = ("run", "real", "unique", "minimal", "padding", "duplicates", "causal prefixes")
    total = {k: sum(v[k] for v in out.values()) for k in keys}
    total["ratio"] = total["run"] / total["minimal"] if total["minimal"] else float("nan")
    total["gflops run"] = sum(v["gflops run"] for v in out.values())
    total["gflops minimal"] = sum(v["gflops minimal"] for v in out.values())
    total["flops ratio"] = total["gflops run"] / total["gflops minimal"]
    out["total"] = total
    return out


def build(profile: str, scale: str, work: Path) -> dict:
    """The book's extraction plan, then ``reproduce`` and ``compare`` of the chapters' models
    (what chapters 3-7 compute), of ``profile`` at ``scale`` in one process with a fresh
    cache under ``work``, every forward call logged; returns the summary. After the plan,
    reproduce and compare should find every extraction in the cache: their calls are
    counted apart (``after plan``)."""
    os.environ["LAYERWISE_CACHE"] = str(work / "cache")
    from layerwise.pipeline import compare, profiles
    from layerwise.pipeline.book_plan import run_book_plan
    from layerwise.pipeline.config import RunConfig
    from layerwise.pipeline.reproduce import reproduce

    calls: dict = defaultdict(list)
    params: dict = {}
    _install_logger(calls, params)
    cfg = RunConfig(
        profile=profile, scale=scale, results_dir=str(work / "out"), cache_dir=str(work / "cache")
    )
    start = time.perf_counter()
    run_book_plan(cfg, log=None)
    planned = {name: len(batches) for name, batches in calls.items()}
    mid = time.perf_counter()
    reproduce(cfg, log=lambda m: None)
    extras, _ = profiles.available_extras(profile)
    sources = list(profiles.resolve_profile(profile).values()) + list(extras)
    compare.run_compare(sources, cfg, work / "compare", log=lambda m: None, progress=False)
    end = time.perf_counter()
    summary = summarize(calls, params)
    for name, batches in calls.items():
        summary[name]["calls after plan"] = len(batches) - planned.get(name, 0)
    summary["total"]["calls after plan"] = sum(
        v["calls after plan"] for k, v in summary.items() if k != "total"
    )
    summary["total"]["seconds plan"] = mid - start
    summary["total"]["seconds tables"] = end - mid
    return summary


def separate_tokens(lm, requests, batch_size: int) -> int:
    """Padded tokens of ``requests`` extracted on their own (as
    :func:`layerwise.extract.batched.extract` batches them)."""
    import numpy as np

    from layerwise.extract import batched

    cut = [batched.cut_after_last_read(r) for r in requests] if lm.spec.causal else requests
    lengths = np.array([len(r.ids) for r in cut])
    max_tokens = batched.default_max_tokens(lm.spec.device)
    batches = batched._batches(lengths, batch_size, max_tokens, lm.spec.batching)
    return sum(len(b) * int(lengths[b].max()) for b in batches)


def count(profile: str, scale: str) -> dict:
    """Without a forward pass: the book's extractions per model (the jobs its plan records)
    and their padded tokens extracted each on its own (``separate``: the build before the
    plan, identical extractions once, as the cache gives them), as the plan runs them
    (``run``) and the minimal set."""
    from layerwise.extract.batched import cut_after_last_read
    from layerwise.pipeline.book_plan import book_jobs
    from layerwise.pipeline.config import RunConfig
    from layerwise.store.plan import make_plan

    cfg = RunConfig(profile=profile, scale=scale)
    s = cfg.options()
    out = {}
    for lm, jobs in book_jobs(cfg):
        separate = sum(separate_tokens(lm, j.requests, s.batch_size) for j in jobs)
        plan = make_plan(lm, jobs)
        seqs = [
            (cut_after_last_read(r) if lm.spec.causal else r).ids for j in jobs for r in j.requests
        ]
        unique, minimal = minimal_tokens(seqs, bool(lm.spec.causal))
        out[lm.spec.name] = {
            "causal": bool(lm.spec.causal),
            "extractions": len(jobs),
            "separate": separate,
            "run": plan.tokens,
            "unique": unique,
            "minimal": minimal,
            "ratio before": separate / minimal,
            "ratio": plan.tokens / minimal,
        }
    keys = ("separate", "run", "unique", "minimal")
    total = {k: sum(v[k] for v in out.values()) for k in keys}
    total["ratio before"] = total["separate"] / total["minimal"]
    total["ratio"] = total["run"] / total["minimal"]
    out["total"] = total
    return out


def show(profile: str, scale: str, summary: dict) -> None:
    print(f"\n{profile} ({scale}): padded tokens run vs the minimal set")
    cols = ("run", "minimal", "ratio", "padding", "duplicates", "causal prefixes", "gflops run")
    print(f"{'model':<28}" + "".join(f"{c:>16}" for c in cols))
    for name, row in summary.items():
        cells = [
            f"{row[c]:>16.3f}" if isinstance(row[c], float) else f"{row[c]:>16,}" for c in cols
        ]
        print(f"{name:<28}" + "".join(cells))
    t = summary["total"]
    print(
        f"estimated FLOPs (2 x params x tokens): {t['gflops run']:.1f} GFLOP run vs "
        f"{t['gflops minimal']:.1f} minimal ({t['flops ratio']:.3f}x); build "
        f"{t['seconds plan']:.0f}s plan + {t['seconds tables']:.0f}s tables; forward calls "
        f"after the plan: {t['calls after plan']}"
    )


def show_count(profile: str, scale: str, summary: dict) -> None:
    print(f"\n{profile} ({scale}, counted from the plan): padded tokens vs the minimal set")
    cols = ("separate", "ratio before", "run", "minimal", "ratio")
    print(f"{'model':<34}" + "".join(f"{c:>14}" for c in cols))
    for name, row in summary.items():
        cells = [
            f"{row[c]:>14.3f}" if isinstance(row[c], float) else f"{row[c]:>14,}" for c in cols
        ]
        print(f"{name:<34}" + "".join(cells))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", nargs="+", default=["tiny", "offline"])
    parser.add_argument("--scale", default="reduced", choices=["reduced", "full"])
    parser.add_argument("--json", default="_build/forward_passes.json")
    parser.add_argument(
        "--count",
        action="store_true",
        help="count the plan's tokens without a forward pass (fast at full scale)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: one profile, this process
    args = parser.parse_args(argv)
    if args.count:
        counted = {}
        for profile in args.profile:
            counted[profile] = count(profile, args.scale)
            show_count(profile, args.scale, counted[profile])
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"scale": args.scale, **counted}, indent=1))
        print(f"\nwrote {args.json}")
        return 0
    if args.one:  # a fresh process per profile: nothing cached in memory between them
        with tempfile.TemporaryDirectory(prefix="lw-forward-") as tmp:
            summary = build(args.one, args.scale, Path(tmp))
        print(json.dumps(summary))
        return 0
    import subprocess

    results = {}
    for profile in args.profile:
        done = subprocess.run(
            [sys.executable, __file__, "--one", profile, "--scale", args.scale],
            capture_output=True,
            text=True,
            env=os.environ | {"TQDM_DISABLE": "1"},
        )
        if done.returncode:
            sys.stderr.write(done.stderr[-4000:])
            return done.returncode
        results[profile] = json.loads(done.stdout.strip().splitlines()[-1])
        show(profile, args.scale, results[profile])
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"scale": args.scale, **results}, indent=1))
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
