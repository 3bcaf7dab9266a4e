"""Command line: ``python -m layerwise reproduce|book|info|rehearse|compare|models-page|student``.

``reproduce`` computes every result without the book (for researchers who want
numbers only); ``book`` executes the notebooks with papermill and builds the
site with jupyter-book; ``info`` shows what a profile resolves to; ``rehearse``
writes random-weight models with the paper's architectures into a local Hugging
Face cache and prints the environment that runs the ``paper`` profile on them
(:mod:`layerwise.platform.rehearsal`); ``models-page`` loads every family of the
conformance table and writes the book's *Which models work* page (``book/models.md``);
``student`` writes the chapters without their solutions for a class, and the teacher's
key (:mod:`layerwise.site.student`).
"""

from __future__ import annotations

import argparse
import re
import sys

from .errors import InputError, LayerwiseError
from .models.hub import hub_availability
from .pipeline.interrupts import stop_on_signals
from .pipeline.profiles import PROFILES, ROLES, auto_choice, resolve_profile


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text!r}")
    return value


def _revision(text: str) -> tuple[str, str]:
    role, sep, rev = text.partition("=")
    if not sep or not role or not rev or any(c.isspace() for c in rev):
        raise argparse.ArgumentTypeError(
            f"expected ROLE=REVISION (e.g. causal=607a30d), got {text!r}"
        )
    if role not in ROLES:
        raise argparse.ArgumentTypeError(
            f"unknown role {role!r} in {text!r}; the roles are {', '.join(ROLES)}"
        )
    return role, rev


def _folder(text: str) -> str:
    if not text.strip():  # "" would be the working directory (--out) or the default (cache)
        raise argparse.ArgumentTypeError("expected a folder, got an empty path")
    return text


def _device(text: str) -> str:
    from .pipeline.config import parse_device

    try:
        return parse_device(text)
    except LayerwiseError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _source(text: str) -> str:
    """A model source as ``compare`` takes it: non-empty, its ``@REVISION`` readable."""
    from .models.hub import split_revision

    if not text.strip():
        raise argparse.ArgumentTypeError("expected a model source, got an empty one")
    try:
        split_revision(text)
    except LayerwiseError as err:
        raise argparse.ArgumentTypeError(str(err)) from err
    return text


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="auto", choices=[*PROFILES, "auto"])
    p.add_argument("--scale", default="full", choices=["full", "reduced"])
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument(
        "--dtype",
        default="auto",
        choices=["auto", "float32", "float16", "bfloat16"],
        help="auto: bfloat16 on a GPU that runs it, else float32",
    )
    p.add_argument("--batch-size", type=_positive_int, default=64)
    p.add_argument(
        "--cache-dir",
        type=_folder,
        default=None,
        help="default: $LAYERWISE_CACHE, else .cache/layerwise of this checkout, else "
        "~/.cache/layerwise",
    )
    p.add_argument(
        "--revision",
        type=_revision,
        action="append",
        default=[],
        metavar="ROLE=REV",
        help="pin a hub model's revision (commit, branch or tag) for a role: "
        "contrastive=... or causal=...; repeatable",
    )
    p.add_argument(
        "--device-map",
        default=None,
        choices=["auto", "balanced", "balanced_low_0", "sequential"],
        help="spread a model larger than one device over the GPUs, the CPU and disk (accelerate)",
    )
    p.add_argument(
        "--max-memory",
        type=_max_memory,
        default=None,
        metavar="DEV=SIZE,...",
        help="memory per device for --device-map, e.g. 0=70GiB,1=70GiB,cpu=200GiB (GPU "
        "index, cpu, mps or disk = KB, MB, GB, TB, KiB, MiB, GiB or TiB)",
    )
    p.add_argument(
        "--offload-folder", type=_folder, default=None, help="where --device-map offloads to disk"
    )


def _plain(doc: str) -> str:
    """``doc`` without reStructuredText markup (roles and double backquotes), as --help shows it."""
    return re.sub(r":\w+:`([^`]*)`", r"\1", doc).replace("``", "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="layerwise",
        description=_plain(__doc__),
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the docstring's own lines
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("reproduce", help="compute every table and write CSV + provenance")
    _common(rep)
    rep.add_argument(
        "--out",
        type=_folder,
        default="results",
        help="results folder (a profile subfolder is added)",
    )
    book = sub.add_parser("book", help="execute the notebooks and build the site")
    _common(book)
    book.add_argument("--out", type=_folder, default="results")
    book.add_argument(
        "--no-reuse",
        action="store_true",
        help="execute every chapter, even one unchanged since its last run",
    )
    info = sub.add_parser("info", help="which models a profile uses and whether they are available")
    info.add_argument("--profile", default="auto", choices=[*PROFILES, "auto"])
    reh = sub.add_parser(
        "rehearse",
        help="build random-weight stand-ins of the paper's models in a local HF cache",
    )
    reh.add_argument("--hf-home", type=_folder, default=None, help="default: .cache/rehearsal-hf")
    reh.add_argument("--seed", type=_non_negative_int, default=0)
    _compare_parser(sub)
    sub.add_parser(
        "models-page",
        help="load every conformance family and write book/models.md (Which models work)",
    )
    _student_parser(sub)
    args = parser.parse_args(argv)
    restore = stop_on_signals()  # Ctrl-C, SIGTERM: Interrupted, so finally blocks tidy up
    try:
        if args.command == "student":
            return _student(args)
        if args.command == "models-page":
            from .platform.models_page import write_page

            print(write_page())
            return 0
        if args.command == "compare":
            return _compare(args)
        if args.command == "info":
            profile = args.profile
            if profile == "auto":  # decided once, so the line and the list agree
                profile, why = auto_choice()
                print(_auto_line(profile, why))
            else:
                print(f"profile {profile}")
            for role, source in resolve_profile(profile).items():
                print(f"{role:12s} {source:40s} {hub_availability(source)}")
            return 0
        if args.command == "rehearse":
            from .platform import rehearsal

            home = args.hf_home or rehearsal.DEFAULT_HF_HOME
            rehearsal.build(home, seed=args.seed, log=lambda m: print(m, file=sys.stderr))
            print(rehearsal.env_line(home))
            return 0
        cfg = _run_config(args, profile=args.profile, revisions=dict(args.revision))
        if args.command == "reproduce":
            from .pipeline.reproduce import reproduce

            reproduce(cfg)
        else:
            from .site.book import build_book

            build_book(cfg, reuse_runs=not args.no_reuse)
    except LayerwiseError as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        return _interrupted(err)
    finally:
        restore()
    return 0


def _interrupted(err: KeyboardInterrupt) -> int:
    """An interrupted command's one line on stderr (what finished, and that the same
    command resumes) and its exit status: 130 for SIGINT, 143 for SIGTERM. Further signals
    are ignored while the process ends, and the libraries' shutdown messages silenced."""
    from .pipeline.interrupts import Interrupted, end_progress_bars, quiet_shutdown

    quiet_shutdown()
    end_progress_bars()
    stopped = Interrupted.after(err, "")
    print(stopped.line(), file=sys.stderr, flush=True)
    return stopped.exit_code


def _auto_line(chosen: str, why: str) -> str:
    """``info --profile auto``'s first line: the profile ``auto`` chose and why, from
    :func:`~layerwise.pipeline.profiles.auto_choice`'s Markdown sentence as plain text."""
    plain = why.replace("`", "")
    return f"profile auto -> {chosen}: {plain.removeprefix(f'auto chose {chosen}: ')}"


def _compare_parser(sub) -> None:
    """``compare MODEL... --out DIR``: chapter 7's tables for any number of models."""
    cmp = sub.add_parser(
        "compare",
        help="isotropy, rogue dimensions, postprocessing and paired "
        "differences for N models (hub ids, folders, package:, tiny:)",
    )
    cmp.add_argument(
        "models",
        nargs="+",
        type=_source,
        help="model sources, e.g. tiny:gpt2 tiny:clip, each optionally at a hub revision: "
        "EleutherAI/pythia-160m@step3000",
    )
    _common(cmp)
    cmp.add_argument("--out", type=_folder, required=True, help="folder for the tables")
    cmp.add_argument(
        "--n-cwe", type=_positive_int, default=None, help="CWE sample size (default: scale's)"
    )
    cmp.add_argument("--n-resamples", type=_positive_int, default=None, help="bootstrap resamples")
    where = cmp.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="run the models on a local Dask cluster of N processes (default: one after another)",
    )
    where.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the models on an existing Dask cluster (tcp://host:8786; dask-jobqueue "
        "reaches Slurm/PBS); its workers must share the cache folder",
    )


def _student_parser(sub) -> None:
    """``student --out DIR``: the student edition and the teacher's key."""
    stu = sub.add_parser(
        "student",
        help="write the chapters without their solutions (DIR/notebooks) and the "
        "teacher's key (DIR/key)",
    )
    stu.add_argument(
        "--out", type=_folder, default="student", help="folder to write (default: student)"
    )
    stu.add_argument(
        "--force",
        action="store_true",
        help="write into a folder that is not empty (its notebooks/ and key/ are replaced)",
    )
    stu.add_argument(
        "--fold",
        action="store_true",
        help="instead: fold the solutions of notebooks/*.ipynb in place, so that "
        "JupyterLab shows them collapsed",
    )


def _student(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .site import student

    if args.fold:
        changed = student.fold_files(student.chapters(Path.cwd()))
        print(f"folded the solutions of {len(changed)} notebook(s)")
        for path in changed:
            print(f"  {path}")
        return 0
    written = student.write_student_edition(args.out, force=args.force)
    n = len(written) // 2
    print(f"wrote {n} student notebooks to {Path(args.out) / 'notebooks'}")
    print(f"wrote {n} key notebooks to {Path(args.out) / 'key'}")
    return 0


def _max_memory(text: str) -> dict[str, str] | None:
    from .pipeline.config import parse_max_memory

    try:
        return parse_max_memory(text)
    except LayerwiseError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def _compare(args: argparse.Namespace) -> int:
    if args.revision:  # it pins a profile's roles; compare's models are named, not roles
        raise InputError(
            f"compare takes no --revision {'='.join(args.revision[0])} (it pins the roles of "
            "reproduce and book); name the revision in the model source, MODEL@REVISION "
            "(e.g. EleutherAI/pythia-160m@step3000)"
        )
    from .pipeline.compare import run_compare

    # the profile is unused by compare: the models are named on the command line
    cfg = _run_config(
        args,
        profile="tiny",
        n_cwe=args.n_cwe,
        n_resamples=args.n_resamples,
    )
    runner = None
    if args.workers is not None or args.scheduler is not None:
        from .platform.sweep import DaskRunner

        runner = DaskRunner(workers=args.workers, scheduler=args.scheduler)
    run_compare(args.models, cfg, args.out, runner=runner)
    return 0


def _run_config(args: argparse.Namespace, **fields):
    """The :class:`~layerwise.pipeline.config.RunConfig` of a command's common options."""
    from .pipeline.config import RunConfig

    return RunConfig(
        scale=args.scale,
        seed=args.seed,
        device=args.device,
        dtype=args.dtype,
        batch_size=args.batch_size,
        results_dir=args.out,
        cache_dir=args.cache_dir,
        device_map=args.device_map,
        max_memory=args.max_memory,
        offload_folder=args.offload_folder,
        **fields,
    )
