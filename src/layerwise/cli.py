"""Command line: ``python -m layerwise reproduce|book|info``.

``reproduce`` computes every result without the book (for researchers who want
numbers only); ``book`` executes the notebooks with papermill and builds the
site with jupyter-book; ``info`` shows what a profile resolves to.
"""

from __future__ import annotations

import argparse
import sys

from .errors import LayerwiseError
from .models import PROFILES, hub_availability, resolve_profile


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="auto", choices=[*PROFILES, "auto"])
    p.add_argument("--scale", default="full", choices=["full", "reduced"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16", "bfloat16"])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--cache-dir", default=None, help="default: $LAYERWISE_CACHE or ~/.cache/layerwise"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="layerwise", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="compute every table and write CSV + provenance")
    _common(rep)
    rep.add_argument(
        "--out", default="results", help="results folder (a profile subfolder is added)"
    )
    book = sub.add_parser("book", help="execute the notebooks and build the site")
    _common(book)
    book.add_argument("--out", default="results")
    info = sub.add_parser("info", help="which models a profile uses and whether they are available")
    info.add_argument("--profile", default="auto", choices=[*PROFILES, "auto"])
    _compare_parser(sub)
    args = parser.parse_args(argv)
    try:
        if args.command == "compare":
            return _compare(args)
        if args.command == "info":
            for role, source in resolve_profile(args.profile).items():
                print(f"{role:12s} {source:40s} {hub_availability(source)}")
            return 0
        from .runs import RunConfig

        cfg = RunConfig(
            profile=args.profile,
            scale=args.scale,
            seed=args.seed,
            device=args.device,
            dtype=args.dtype,
            batch_size=args.batch_size,
            results_dir=args.out,
            cache_dir=args.cache_dir,
        )
        if args.command == "reproduce":
            from .runs import reproduce

            reproduce(cfg)
        else:
            from .book import build_book

            build_book(cfg)
    except LayerwiseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


def _compare_parser(sub) -> None:
    """``compare MODEL... --out DIR``: chapter 7's tables for any number of models."""
    cmp = sub.add_parser(
        "compare",
        help="isotropy, rogue dimensions, postprocessing and paired "
        "differences for N models (hub ids, folders, package:, tiny:)",
    )
    cmp.add_argument("models", nargs="+", help="model sources, e.g. tiny:gpt2 tiny:clip")
    _common(cmp)
    cmp.add_argument("--out", required=True, help="folder for the tables")
    cmp.add_argument("--n-cwe", type=int, default=None, help="CWE sample size (default: scale's)")
    cmp.add_argument("--n-resamples", type=int, default=None, help="bootstrap resamples")


def _compare(args: argparse.Namespace) -> int:
    from .compare import run_compare
    from .runs import RunConfig

    cfg = RunConfig(
        profile="tiny",  # unused by compare: the models are named on the command line
        scale=args.scale,
        seed=args.seed,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        results_dir=args.out,
        cache_dir=args.cache_dir,
        n_cwe=args.n_cwe,
        n_resamples=args.n_resamples,
    )
    run_compare(args.models, cfg, args.out)
    return 0
