"""Interruptions: Ctrl-C (SIGINT) or SIGTERM ends a run with one line, not a traceback.

From :func:`stop_on_signals` on (the command line calls it before every command), both
signals raise :class:`Interrupted` in the main thread, as Python raises
``KeyboardInterrupt`` for Ctrl-C; SIGINT too where the process started with it ignored (a
job that a script starts in the background), so that ``kill -INT`` stops a run there as
well. So ``finally`` blocks run: temporaries are removed, a Dask cluster is closed, child
processes are stopped. A stage that knows what it finished re-raises with that statement
(:meth:`Interrupted.after`: "3 of 9 tables written"); the command line prints
:meth:`Interrupted.line` and exits with :attr:`Interrupted.exit_code` (130 for SIGINT, 143
for SIGTERM, as a shell reports a process that a signal ended). Nothing finished is lost:
the cache is written atomically, entry by entry, so the same command run again reads what
finished and computes the rest.

A block that must not stop halfway (starting or stopping a cluster) runs inside
:func:`held_signals`: a signal arriving there is held until the block ends, and a second
one is not (a run that hangs can still be stopped). Processes started inside
:func:`children_deaf` (a local cluster's workers) never see either signal, even one sent
to the whole process group (a Ctrl-C at a terminal): the run stops them itself. A child
started in a session of its own (a notebook's kernel, jupyter-book) is stopped with its
group (:func:`stop_group`).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

#: The signals that stop a run, by name in the line the command line prints.
SIGNALS = {signal.SIGINT: "Ctrl-C (SIGINT)", signal.SIGTERM: "SIGTERM"}
#: Loggers of the libraries a run starts (Dask, its asyncio loop, tornado) whose messages
#: while a run stops (tasks cancelled, workers killed) say nothing the user must act on.
SHUTDOWN_LOGGERS = ("distributed", "asyncio", "tornado")
RESUME = "re-run the same command to resume"


class Interrupted(KeyboardInterrupt):
    """The run was stopped by ``signum`` (SIGINT or SIGTERM); ``finished`` says what was
    done before (empty when no stage said). A ``KeyboardInterrupt``, so code that stops
    on Ctrl-C stops on SIGTERM alike, and ``except Exception`` does not swallow it."""

    def __init__(self, signum: int = signal.SIGINT, finished: str = "") -> None:
        super().__init__(finished)
        self.signum, self.finished = int(signum), finished

    @property
    def exit_code(self) -> int:
        """128 + the signal's number: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum

    @classmethod
    def after(cls, err: BaseException, finished: str) -> Interrupted:
        """``err`` (a ``KeyboardInterrupt``, maybe an :class:`Interrupted`) as an
        :class:`Interrupted` saying ``finished``; a statement an inner stage already made
        is kept (it knows more)."""
        return cls(getattr(err, "signum", signal.SIGINT), getattr(err, "finished", "") or finished)

    def __reduce__(self):
        return (type(self), (self.signum, self.finished))

    def line(self) -> str:
        """The one line the command line prints: which signal, what finished, the remedy."""
        what = SIGNALS.get(self.signum, f"signal {self.signum}")
        done = f"{self.finished}; " if self.finished else ""
        return f"interrupted by {what}: {done}{RESUME}"


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


def stop_on_signals() -> Callable[[], None]:
    """From now on SIGINT and SIGTERM raise :class:`Interrupted` in the main thread;
    returns what puts the handlers found back. Outside the main thread (where handlers
    cannot be set) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    before = {s: signal.signal(s, _raise) for s in SIGNALS}

    def restore() -> None:
        for s, handler in before.items():
            signal.signal(s, handler)

    return restore


@contextmanager
def held_signals() -> Iterator[list[int]]:
    """Inside: the first SIGINT or SIGTERM is held (appended to the yielded list) instead
    of raised, and the handlers before are put back at once, so a second signal acts as
    usual. Once a signal is held, the loggers of :data:`SHUTDOWN_LOGGERS` say nothing
    below CRITICAL until the block ends (what the block fails with then, e.g. a worker
    that the same Ctrl-C stopped, is part of stopping). The caller raises
    :class:`Interrupted` for a held signal once it has tidied up (:func:`raise_held`).
    Outside the main thread nothing changes."""
    held: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    before: dict[int, object] = {}

    loggers = [logging.getLogger(name) for name in SHUTDOWN_LOGGERS]
    levels = [logger.level for logger in loggers]

    def hold(signum: int, frame: object) -> None:
        held.append(signum)
        for s, handler in before.items():
            signal.signal(s, handler)
        for logger in loggers:  # what the block now fails with, the run is stopping
            logger.setLevel(logging.CRITICAL)

    before.update({s: signal.signal(s, hold) for s in SIGNALS})
    try:
        yield held
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


@contextmanager
def children_deaf() -> Iterator[None]:
    """Inside: the main thread blocks SIGINT and SIGTERM, so the threads it starts, and the
    processes those start (a local cluster's workers), are born with both blocked: a
    Ctrl-C at a terminal, which reaches the whole process group, or a SIGTERM to the group,
    does not stop them halfway (with tracebacks of their own); the process that started
    them stops them. A signal arriving inside is handled when the block ends (use it inside
    :func:`held_signals`). Outside the main thread, or where signals cannot be blocked,
    nothing changes.

    ``multiprocessing``'s resource tracker is started first: starting it unblocks both
    signals in the thread that starts it."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(
        signal, "pthread_sigmask"
    ):
        yield
        return
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    before = signal.pthread_sigmask(signal.SIG_BLOCK, set(SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


def stop_group(group: int, grace_s: float = 2.0, reap: Callable[[], object] | None = None) -> None:
    """Stop process group ``group`` (a child started in a session of its own: a notebook's
    kernel, jupyter-book, with whatever they started): SIGTERM, then SIGKILL to what is
    left after ``grace_s`` seconds. ``reap`` (e.g. the child's ``Popen.poll``) is called
    while waiting, so that an ended child does not linger as a zombie of the group."""
    if not hasattr(os, "killpg"):
        return
    try:
        os.killpg(group, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if reap is not None:
            reap()
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


def raise_held(held: list[int]) -> None:
    """Raise :class:`Interrupted` for the first signal :func:`held_signals` held, if any."""
    if held:
        raise Interrupted(held[0])


@contextmanager
def quiet_libraries() -> Iterator[None]:
    """Inside: the loggers of :data:`SHUTDOWN_LOGGERS` say nothing below CRITICAL (a run
    that stops cancels tasks and kills workers on purpose); their levels are restored on
    leaving."""
    loggers = [logging.getLogger(name) for name in SHUTDOWN_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def end_progress_bars() -> None:
    """Close the progress bars still drawn (tqdm's), so that what is printed next starts on
    a line of its own instead of after a bar that an interruption left unfinished."""
    std = sys.modules.get("tqdm.std")
    if std is None:
        return
    for bar in list(getattr(std.tqdm, "_instances", ())):
        with suppress(Exception):  # a bar half torn down by the interruption
            bar.close()


def quiet_shutdown() -> None:
    """For a process that ends because it was interrupted: further SIGINT and SIGTERM are
    ignored (in the main thread; the command line restores the handlers it found when it
    returns), and the loggers of :data:`SHUTDOWN_LOGGERS` say nothing below CRITICAL for
    good (a cancelled task's message can come as late as the interpreter's exit)."""
    if threading.current_thread() is threading.main_thread():
        for s in SIGNALS:
            signal.signal(s, signal.SIG_IGN)
    for name in SHUTDOWN_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
