"""Build the book: execute each notebook once with papermill, then render with jupyter-book.

Source notebooks (``notebooks/``) stay clean. Executed copies go to a staging
folder ``_build/src`` beside the book's pages and configuration, and
jupyter-book renders that folder with execution off, strictly (``-n -W
--keep-going``): any notebook error or Sphinx warning fails the build. The site
lands in ``_build/html``; per-notebook wall times in ``_build/timings.json`` and,
for readers, on the build report page (:mod:`layerwise.site.build_report`). A built
page that loads anything from a CDN or shows a path of the build machine fails
the build (:func:`find_leaks`). Every failure is one line: a chapter that raises names
the chapter, the cell and the error, with the traceback kept in ``_build/logs``
(:func:`chapter_error`); a build folder that cannot be written names it, and a
jupyter-book run that fails is reported by the first real cause in its output (disk
full, permission denied: :func:`run_jupyter_book`), not by the strict-mode summary it
prints last. One build runs in a folder at a time (:func:`~layerwise.locks.folder_lock`).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import yaml

from ..errors import InputError, LayerwiseError, OutputError
from ..locks import folder_lock
from ..pipeline.config import REVISIONS_ENV, RunConfig
from ..pipeline.interrupts import Interrupted, held_signals, quiet_libraries, stop_group
from ..pipeline.profiles import PROFILE_EXTRAS, PROFILES
from . import build_report, reuse

STAGE = Path("_build") / "src"
COPY = ("_config.yml", "_toc.yml", "book")
#: The staged page the build fills (a placeholder is committed under ``book/``).
REPORT_PAGE = Path("book") / "build_report.md"
#: Hosts of public CDNs: a page that loads from one does not work offline.
CDN_HOSTS = (
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "unpkg.com",
    "cdn.mathjax.org",
    "ajax.googleapis.com",
    "code.jquery.com",
    "polyfill.io",
    "cdn.plot.ly",
)
#: URLs a page names but never loads on its own: sphinx-thebe (which jupyter-book always
#: adds) defines where thebe would come from if a reader pressed a "live code" button;
#: this book has no such button, so the constant is dropped before the scan.
LAZY_ONLY_RE = re.compile(r'const THEBE_JS_URL = "[^"]*";')
CDN_RE = re.compile(r"(?:https?:)?//(?:" + "|".join(map(re.escape, CDN_HOSTS)) + r")[^\s\"'<>)]*")
#: papermill tags the cell it injects with these; the build hides it (the
#: ``parameters`` cell above it already shows the defaults).
INJECTED_TAG = "injected-parameters"


class BookLeakError(LayerwiseError):
    """A built page loads from a CDN or shows a path of the build machine."""


class BookBuildError(LayerwiseError):
    """A step of the book's build failed; the message names the step and where to look."""


class ChapterError(BookBuildError):
    """A chapter raised while the book was executed; the message names the chapter, the
    cell and the error, and the log file that keeps the traceback."""


#: Folder (under ``_build``) of the logs that keep a failed chapter's traceback.
LOGS = Path("_build") / "logs"
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def chapter_error(
    rel: Path | str, err: Exception, log_dir: Path, executed: Path | None = None
) -> ChapterError:
    """One line for a chapter that raised (papermill's ``PapermillExecutionError``): the
    chapter, the cell (its execution count and first line) and the error; the full
    traceback goes to ``log_dir/<chapter>.log``, which the line names (with the executed
    notebook ``executed``, which shows the outputs up to the error)."""
    exec_count = getattr(err, "exec_count", None)
    source = str(getattr(err, "source", "") or "")
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    ename = getattr(err, "ename", None) or type(err).__name__
    evalue = " ".join(str(getattr(err, "evalue", err)).split())
    trace = getattr(err, "traceback", None) or [str(err)]
    text = _ANSI_RE.sub("", "\n".join(map(str, trace)))
    header = f"chapter {rel}\nexecuted notebook: {executed or '-'}\ncell [{exec_count}]:\n"
    log = _write_log(log_dir, Path(rel).stem, f"{header}{source}\n\n{text}\n")
    cell = f"cell [{exec_count}]" if exec_count is not None else "a cell"
    shown = f" ({first[:60]!r})" if first else ""
    return ChapterError(
        f"chapter {rel} failed in {cell}{shown}: {ename}: {evalue[:200]}. The traceback is "
        f"in {log}. Remedy: fix the cause, then build the book again."
    )


def _write_log(log_dir: Path, stem: str, text: str) -> Path:
    """``text`` in ``log_dir/<stem>.log``, or in the system's temporary folder when
    ``log_dir`` cannot be written; returns the file."""
    import tempfile

    for folder in (log_dir, Path(tempfile.gettempdir()) / "layerwise-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{stem}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path(os.devnull)


def build_folder_error(root: Path, err: OSError) -> OutputError:
    """The book's build folder (or a file in it) cannot be written: one line naming it."""
    where = err.filename or (root / "_build")
    return OutputError(
        f"the book's build folder cannot be written (or read): {where} ({err.strerror or err}). "
        f"Remedy: fix the permissions of {root / '_build'} (or delete it), free disk space, "
        "or build from a writable copy of the repository."
    )


#: An operating-system error in a line of jupyter-book's output: Python's ``[Errno 28] No
#: space left on device`` (a traceback, "error writing file ...") or ``OSError(28, 'No space
#: left on device')`` (Sphinx's "Failed to copy a file ..." warnings).
_ERRNO_RES = (
    re.compile(r"\[Errno (\d+)\] ([^:'\"\n]+)"),
    re.compile(r"\b\w*Error\((\d+), '([^']*)'\)"),
)
#: Sphinx's status text before a warning printed on the same line.
_STATUS_RE = re.compile(r"^.*\.\.\.\s+(?=(?:WARNING|ERROR|CRITICAL):)")
#: A quoted or bare absolute path in such a line.
_PATH_RE = re.compile(r"'(/[^']+)'|(?<![\w.])(/[^\s:'\"]+)")
#: Errors of the place the book is written to (rather than of its pages): reported first.
OUTPUT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in ("ENOSPC", "EDQUOT", "EACCES", "EPERM", "EROFS", "EIO", "EMFILE", "ENFILE")
    if hasattr(errno, name)
)


def os_error_in(line: str) -> tuple[int, str] | None:
    """``(errno, strerror)`` of the operating-system error a line of output names, if any."""
    for pattern in _ERRNO_RES:
        found = pattern.search(line)
        if found:
            return int(found.group(1)), found.group(2).strip()
    return None


class OutputScan:
    """What a jupyter-book run printed that explains its failure: the lines naming an
    operating-system error (:func:`os_error_in`, the first 200 kept) and the first warning
    or error line, read one line at a time (:meth:`feed`) as the run prints them."""

    def __init__(self) -> None:
        self.errors: list[tuple[int, str, str]] = []  # (errno, strerror, line)
        self.n_errors = 0
        self.first_problem: str | None = None

    def feed(self, line: str) -> None:
        line = _ANSI_RE.sub("", line).strip()
        line = _STATUS_RE.sub("", line)  # "copying static files... WARNING: ..."
        level = re.search(r"\b(WARNING|ERROR|CRITICAL):", line)
        found = os_error_in(line)
        if found:
            self.n_errors += 1
            if len(self.errors) < 200:
                self.errors.append((*found, line))
        if self.first_problem is None and level:
            self.first_problem = line

    def cause(self) -> tuple[int, str, str] | None:
        """The first line naming an error of the output place (disk full, permission,
        read-only...), else the first naming any operating-system error."""
        for item in self.errors:
            if item[0] in OUTPUT_ERRNOS:
                return item
        return self.errors[0] if self.errors else None


def _path_in(line: str, under: Path) -> str | None:
    """The path a line names: the first under ``under`` (a copy's destination rather than
    its source), else the first at all."""
    paths = [a or b for a, b in _PATH_RE.findall(line)]
    inside = [p for p in paths if p == str(under) or p.startswith(f"{under}/")]
    return (inside or paths or [None])[0]


def jupyter_book_error(scan: OutputScan, returncode: int, root: Path, stage: Path):
    """The one line for a failed jupyter-book run: its first real cause when its output
    names an operating-system error (disk full, permission denied, read-only file system:
    an :class:`~layerwise.errors.OutputError` naming the path and the remedy), else a
    :class:`BookBuildError` quoting its first warning (the build is strict)."""
    build = root / "_build"
    cause = scan.cause()
    if cause is None:
        first = f" The first: {scan.first_problem[:300]}." if scan.first_problem else ""
        return BookBuildError(
            f"jupyter-book failed (exit code {returncode}) rendering {stage}; its warnings "
            f"and errors are printed above.{first} Remedy: fix them (the build is strict: every "
            "Sphinx warning fails it), then build the book again."
        )
    code, strerror, line = cause
    path = _path_in(line, build)
    # the path under the build folder: this line's, else a later line's of the same error
    # (Sphinx's "cannot copy static file PermissionError(13, ...)" names none)
    later = (_path_in(other, build) for c, _, other in scan.errors if c == code)
    where = next((p for p in (path, *later) if p and p.startswith(str(build))), None)
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
        try:
            free = f"{shutil.disk_usage(build if build.exists() else root).free / 2**20:,.0f} MiB"
        except OSError:
            free = "unknown"
        where = where or str(build)
        remedy = (
            f"free space on the disk that holds {build} ({free} free now) or build from a "
            "copy of the repository on another disk"
        )
    elif code in (errno.EACCES, errno.EPERM):
        target = Path(where or build)
        while not target.exists() and target != target.parent:
            target = target.parent  # the folder that refused to make it
        remedy = f"make {target} writable for this user (or delete {build})"
    elif code == errno.EROFS:
        remedy = "build from a writable copy of the repository"
    else:
        remedy = f"fix {where or path or 'that path'} (or delete {build}, which is rebuilt)"
    others = scan.n_errors - 1
    more = f"; {others} more such line(s) follow it" if others > 0 else ""
    return OutputError(
        f"jupyter-book could not write the book: {strerror} (errno {code}) at "
        f"{where or path or build} (the first operating-system error in its output{more}; "
        f"the strict-mode warnings and summary are its consequences). It printed: "
        f"{line[:300]}. Remedy: {remedy}, then build the book again."
    )


def run_jupyter_book(cmd: list[str], root: Path, stage: Path, echo=None) -> None:
    """Run jupyter-book (``cmd``, in ``root``), printing its output as it comes; when it
    fails, raise the error of :func:`jupyter_book_error`: its first real cause (disk full,
    permission denied) rather than the strict-mode summary printed last. Its standard error
    is read with its output, so the lines keep their order. It runs in a session of its
    own, so that a Ctrl-C at the terminal reaches this process only; on Ctrl-C or SIGTERM
    its process group is stopped (:func:`~layerwise.pipeline.interrupts.stop_group`) and
    the interruption goes on, saying that every chapter was kept and the site not
    rendered."""
    echo = echo or sys.stdout
    scan = OutputScan()
    proc = subprocess.Popen(
        cmd,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        bufsize=1,
        start_new_session=True,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            echo.write(line)
            echo.flush()
            scan.feed(line)
        returncode = proc.wait()
    except KeyboardInterrupt as err:
        with held_signals():
            stop_group(proc.pid, STOP_GRACE_S, reap=proc.poll)
            proc.wait()
        raise Interrupted.after(
            err, "every chapter done and kept for the next build, the site not rendered"
        ) from err
    finally:
        proc.stdout.close()
    if returncode != 0:
        raise jupyter_book_error(scan, returncode, root, stage)


def find_leaks(html: str, machine_paths: tuple[str, ...]) -> list[str]:
    """CDN URLs and machine paths in one page's HTML, in order of appearance.

    ``machine_paths`` are absolute folders of the build machine (the repository root,
    the home folder); a path counts when the folder is followed by ``/`` or ends a word.
    """
    html = LAZY_ONLY_RE.sub("", html)
    leaks = [m.group(0) for m in CDN_RE.finditer(html)]
    for folder in machine_paths:
        folder = folder.rstrip("/")
        if not folder:
            continue
        pattern = re.compile(re.escape(folder) + r"(?:/[^\s\"'<>]*|(?![\w.-]))")
        leaks += [m.group(0) for m in pattern.finditer(html)]
    return leaks


def scan_html(html_dir: Path, machine_paths: tuple[str, ...]) -> dict[str, list[str]]:
    """``find_leaks`` over every ``*.html`` page under ``html_dir``: page -> leaks
    (pages without a leak are left out)."""
    found: dict[str, list[str]] = {}
    for page in sorted(html_dir.rglob("*.html")):
        leaks = find_leaks(page.read_text(encoding="utf-8", errors="replace"), machine_paths)
        if leaks:
            found[page.relative_to(html_dir).as_posix()] = leaks
    return found


def check_html(html_dir: Path, machine_paths: tuple[str, ...]) -> int:
    """Raise BookLeakError listing each leaking page; return the number of pages scanned."""
    leaks = scan_html(html_dir, machine_paths)
    if leaks:
        lines = [f"  {page}: {', '.join(sorted(set(found))[:5])}" for page, found in leaks.items()]
        raise BookLeakError(
            f"{len(leaks)} built page(s) under {html_dir} load from a CDN or show a path of "
            "this machine (they must work offline and show paths relative to the repository; "
            "see display.shown_path):\n" + "\n".join(lines)
        )
    return sum(1 for _ in html_dir.rglob("*.html"))


def hide_injected_parameters(nb_path: Path) -> int:
    """Tag papermill's injected-parameters cell ``remove-cell`` in an executed notebook;
    returns the number of cells tagged."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    n = 0
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if INJECTED_TAG in tags and "remove-cell" not in tags:
            cell["metadata"]["tags"] = [*tags, "remove-cell"]
            n += 1
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return n


def _with_record_cell(nb: Path, dest: Path, record: Path) -> Path:
    """A copy of notebook ``nb`` at ``dest`` with a last, hidden cell that records the run."""
    import nbformat

    notebook = nbformat.read(nb, as_version=4)
    cell = nbformat.v4.new_code_cell(build_report.record_cell_source(record))
    cell.metadata["tags"] = [build_report.HIDDEN]
    notebook.cells.append(cell)
    dest.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, dest)
    return dest


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


def chapter_parameters(cfg: RunConfig, root: Path) -> dict[str, object]:
    """The values papermill gives each chapter's ``parameters`` cell: every option of the
    run that a chapter reads (a test checks that each chapter declares exactly these and
    passes each to :func:`~layerwise.site.chapter.open_chapter`). ``None`` is written as
    ``""`` and ``max_memory`` as text (``"0=70GiB,cpu=100GiB"``)."""
    return {
        "profile": cfg.concrete_profile,
        "scale": cfg.scale,
        "seed": cfg.seed,
        "device": cfg.device,
        "dtype": cfg.dtype,
        "device_map": cfg.device_map or "",
        "max_memory": ",".join(f"{k}={v}" for k, v in (cfg.max_memory or {}).items()),
        "offload_folder": cfg.offload_folder or "",
        "batch_size": cfg.batch_size,
        "results_dir": str((root / cfg.results_dir).resolve()),
        "cache_dir": cfg.cache_dir or "",
    }


def section_progress(start: float, write=print):
    """The papermill engine's ``progress`` for one chapter: for each markdown cell that
    execution reaches, one line per section heading it holds
    (:func:`~layerwise.site.inline.section_headings`), giving the seconds since ``start``
    (a :func:`time.perf_counter` reading) and the heading
    (:func:`~layerwise.site.inline.progress_line`), written with ``write`` and flushed."""
    from .inline import progress_line, section_headings

    def show(markdown: str) -> None:
        for heading in section_headings(markdown):
            write(progress_line(time.perf_counter() - start, heading), flush=True)

    return show


#: Seconds a stopped chapter's kernel (and jupyter-book) get to end after SIGTERM before
#: SIGKILL.
STOP_GRACE_S = 2.0
#: Seconds an interrupted build waits for papermill's thread to end (it ends once its
#: kernel is stopped; a kernel still starting is stopped once it has started).
STOP_WAIT_S = 10.0


def run_stoppable(execute: Callable[..., object], name: str) -> None:
    """``execute(kernel_started=...)`` (papermill running one chapter) in a thread of its
    own, so that Ctrl-C and SIGTERM reach this (main) thread at once and the kernel is
    stopped from here: interrupted in the main thread, papermill shuts a busy kernel down
    "gracefully" (it waits, and the kernel prints tracebacks of its closed sockets). On
    either signal the kernel's process group is stopped
    (:func:`~layerwise.pipeline.interrupts.stop_group`), the thread is given up to
    :data:`STOP_WAIT_S` to end, and the interruption goes on. What ``execute`` raises is
    raised here."""
    groups: list[int] = []
    raised: list[BaseException] = []

    def target() -> None:
        try:
            execute(kernel_started=groups.append)
        except BaseException as err:  # noqa: BLE001 - handed to the main thread
            raised.append(err)

    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except KeyboardInterrupt:
        with quiet_libraries(), held_signals():
            stopped: set[int] = set()
            deadline = time.monotonic() + STOP_WAIT_S
            while True:  # a kernel still starting is stopped once it has started
                for group in set(groups) - stopped:
                    stop_group(group, STOP_GRACE_S)
                    stopped.add(group)
                if not thread.is_alive() or time.monotonic() > deadline:
                    break
                thread.join(0.1)
        raise
    if raised:
        raise raised[0]


def execute_notebooks(
    cfg: RunConfig,
    root: Path,
    stage: Path,
    records: dict[str, dict] | None = None,
    reused: list[str] | None = None,
    reuse_runs: bool = True,
    progress: bool = True,
) -> dict[str, float]:
    """Run every notebook once with papermill into ``stage``; return wall times.

    With ``progress`` (the default), the log shows where a long chapter is: one line per
    section heading (``##``, ``###``) as execution reaches it, with the seconds since the
    chapter started (:func:`section_progress`), and a last line with the chapter's time.

    papermill runs :class:`~layerwise.site.eval_adapter.InlineEngine`: each markdown cell's
    ``{eval}`` expressions are evaluated where the cell stands and stored in its metadata,
    which the book renders (:mod:`layerwise.site.eval_adapter`).

    Each run's record (:func:`layerwise.site.build_report.record`) goes into ``records``.
    The kernel talks to papermill over IPC sockets: a local build needs no TCP ports
    (and ipykernel warns about unencrypted TCP on every start). Progress bars are off
    in the kernels (``TQDM_DISABLE``, and ``HF_HUB_DISABLE_PROGRESS_BARS`` for the
    bars transformers draws while weights load): nobody watches them, and a widget
    bar saved in a notebook would make its page load the widget manager from a CDN.

    A chapter whose notebook, parameters and inputs are unchanged since its last run (and
    whose result files are still there) is not executed again: its kept copy is staged
    (:mod:`layerwise.site.reuse`), its name added to ``reused``. ``reuse_runs=False``
    executes every chapter. The run's configuration is validated (device, cache, results
    folder) before the first chapter that must execute, and then the states the chapters
    read are extracted as one plan per model (:mod:`layerwise.pipeline.book_plan`); a
    build that reuses every chapter imports neither torch nor papermill.
    """
    params = chapter_parameters(cfg, root)
    timings: dict[str, float] = {}
    work = stage.parent / "run"
    shutil.rmtree(work, ignore_errors=True)
    os.environ["TQDM_DISABLE"] = "1"  # inherited by the kernels
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    sources = [*PROFILES[cfg.concrete_profile].values(), *PROFILE_EXTRAS[cfg.concrete_profile]]
    inputs = reuse.inputs_digest(sources)
    results = (root / cfg.results_dir / cfg.concrete_profile).resolve()
    validated = False
    chapters = notebook_order(root)
    done = {"executed": 0, "reused": 0}  # chapters kept for the next build
    try:
        for nb in chapters:
            rel = nb.relative_to(root)
            out = stage / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            key = reuse.chapter_key(nb, params, inputs)
            kept = reuse.reusable(root, nb.stem, key) if reuse_runs else None
            if kept is not None:
                print(f"reusing {rel}: unchanged since its last run", flush=True)
                kept_copy = (root / reuse.STORE / f"{nb.stem}.ipynb").read_bytes()
                reuse.write_if_changed(out, kept_copy)
                timings[str(rel)] = kept["seconds"]
                if records is not None:
                    records[str(rel)] = kept["record"]
                if reused is not None:
                    reused.append(str(rel))
                done["reused"] += 1
                continue
            import papermill
            from papermill.exceptions import PapermillExecutionError
            from traitlets.config import Config

            from . import eval_adapter, inline

            if not validated:  # before the first kernel starts
                from ..pipeline.book_plan import run_book_plan

                cfg.validate()
                validated = True
                plan_start = time.perf_counter()
                written = run_book_plan(cfg, log=lambda m: print(m, flush=True))
                seconds = round(time.perf_counter() - plan_start, 1)
                print(f"extraction plan: {written} extractions in {seconds}s", flush=True)
                timings[build_report.PLAN] = seconds
                if records is not None:
                    records[build_report.PLAN] = {"cache": {"extractions": {"computed": written}}}
            kernel_config = Config({"KernelManager": {"transport": "ipc"}})
            record = work / f"{nb.stem}.json"
            source = _with_record_cell(nb, work / rel, record)
            since = time.time()
            start = time.perf_counter()
            print(f"executing {rel} (profile={params['profile']}, scale={cfg.scale})", flush=True)
            execute = partial(
                papermill.execute_notebook,
                str(source),
                str(out),
                parameters=params,
                cwd=str(nb.parent),
                progress_bar=False,
                kernel_name="python3",
                engine_name=eval_adapter.ENGINE_NAME,
                config=kernel_config,
                progress=section_progress(start) if progress else None,
            )
            try:
                run_stoppable(execute, f"papermill {rel}")
            except PapermillExecutionError as err:
                raise chapter_error(rel, err, root / LOGS, out) from err
            timings[str(rel)] = round(time.perf_counter() - start, 1)
            if progress:
                print(inline.progress_line(timings[str(rel)], f"{rel} done"), flush=True)
            hide_injected_parameters(out)
            run = json.loads(record.read_text())
            if records is not None:
                records[str(rel)] = run
            written = reuse.result_files(results, since)
            reuse.store(root, nb.stem, key, out, run, timings[str(rel)], written)
            done["executed"] += 1
    except KeyboardInterrupt as err:  # Ctrl-C or SIGTERM: say which chapters are kept
        raise Interrupted.after(
            err,
            f"{sum(done.values())} of {len(chapters)} chapters done and kept for the next "
            f"build ({done['executed']} executed, {done['reused']} reused)",
        ) from err
    return timings


def build_book(cfg: RunConfig, root: Path | None = None, reuse_runs: bool = True) -> Path:
    """Execute the notebooks and build ``_build/html``; returns the index page.

    Unchanged chapters are reused (:func:`execute_notebooks`) unless ``reuse_runs`` is
    false, and Sphinx re-reads only the staged pages that changed. The build holds the
    locks of ``_build`` and of the results folder the chapters write
    (:func:`~layerwise.locks.folder_lock`): a second build, or a ``reproduce`` into the
    same results, fails at once with a :class:`~layerwise.errors.BusyError` naming this
    one."""
    root = (root or Path.cwd()).resolve()
    if not (root / "_toc.yml").exists():
        raise InputError(f"{root} has no _toc.yml: run `layerwise book` from the repository root")
    if cfg.revisions:  # the notebooks' kernels inherit the pins
        os.environ[REVISIONS_ENV] = " ".join(f"{k}={v}" for k, v in cfg.revisions.items())
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    try:
        results = root / cfg.results_dir / cfg.concrete_profile  # the chapters write there
        with (
            folder_lock(root / "_build", "book's build folder"),
            folder_lock(results, "results folder (--out)"),
        ):
            return _run_build(cfg, root, bin_dir, reuse_runs)
    except OSError as err:
        raise build_folder_error(root, err) from err


def _run_build(cfg: RunConfig, root: Path, bin_dir: str, reuse_runs: bool = True) -> Path:
    """The steps of :func:`build_book` after its checks. The stage is kept between builds
    and only what changed is written, so Sphinx re-reads only those pages."""
    stage = root / STAGE
    stage.mkdir(parents=True, exist_ok=True)
    chapters = {nb.relative_to(root) for nb in notebook_order(root)}
    for path in sorted(stage.rglob("*.ipynb")):
        if path.relative_to(stage) not in chapters:
            path.unlink()  # a chapter removed from the table of contents
    for name in COPY:
        reuse.sync_tree(root / name, stage / name)
    start = time.perf_counter()
    records: dict[str, dict] = {}
    reused: list[str] = []
    timings = execute_notebooks(cfg, root, stage, records, reused, reuse_runs)
    timings["notebooks_total"] = round(time.perf_counter() - start, 1)
    reuse.write_if_changed(
        stage / REPORT_PAGE,
        build_report.report_markdown(
            records, timings, profile=cfg.concrete_profile, scale=cfg.scale, reused=reused
        ).encode(),
    )
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
    run_jupyter_book(cmd, root, stage)
    timings["jupyter_book"] = round(time.perf_counter() - start, 1)
    timings |= {"profile": cfg.concrete_profile, "scale": cfg.scale, "reused": reused}
    (root / "_build" / "timings.json").write_text(json.dumps(timings, indent=2))
    html = root / "_build" / "html"
    n_pages = check_html(html, (str(root), str(Path.home().resolve())))
    print(f"checked {n_pages} pages: no CDN reference, no path of this machine")
    index = html / "index.html"
    print(f"built {index}")
    return index
