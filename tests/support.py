"""Helpers several test files share (importable as ``support``: ``pythonpath`` in
pyproject.toml). Fixtures live in tests/conftest.py; this module holds plain values and
functions."""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Sentences of very different lengths (1 to ~35 tokens), unsorted.
SENTENCES = [
    "A cat.",
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch "
    "of an old red barn.",
    "Hi",
    "Photosynthesis converts light energy into chemical energy.",
    "Yes!",
    "In 1905, Albert Einstein published four papers that changed physics: on the "
    "photoelectric effect, Brownian motion, special relativity, and mass-energy equivalence.",
    "Dogs bark.",
    "It was the best of times, it was the worst of times.",
]
#: Words of one to several subtokens.
WORDS = ["cat", "unbelievable", "antidisestablishment", "a", "photosynthesis", "dog", "Hi", "ok"]


def one_line(err: BaseException) -> str:
    """The error's message, asserted to be one line."""
    text = str(err)
    assert "\n" not in text.strip(), f"not one line: {text!r}"
    return text


def load_cpu(source: str | Path, **kwargs):
    """``load_model`` of ``source`` on the CPU."""
    from layerwise.models.loading import load_model

    return load_model(str(source), device="cpu", **kwargs)


class _Marker:
    """A pickle that would create a folder if it were ever unpickled unsafely."""

    def __init__(self, where: Path) -> None:
        self.where = where

    def __reduce__(self):
        return (os.mkdir, (str(self.where),))


def pickled_weights(folder: Path) -> str:
    """Replace a saved model's safetensors weights by a pickle that would create
    ``folder/EXECUTED`` if it were unpickled; returns the pickle's path."""
    (folder / "model.safetensors").unlink()
    path = folder / "pytorch_model.bin"
    marker = {"h.0.attn.c_attn.weight": _Marker(folder / "EXECUTED")}
    path.write_bytes(pickle.dumps(marker, protocol=2))  # torch.save's protocol
    return str(path)


def add_comment(path: Path) -> None:
    """Append a comment to a source file: an edit that changes no behaviour."""
    path.write_text(path.read_text() + "\n# an edit that changes no behaviour\n")


#: A process that holds a folder's lock (layerwise.locks) until its stdin closes. Where the
#: package has no lock (before issue 25), it holds the same file the same way: an flock on
#: ``.layerwise.lock`` with a record, so a test shows what that package does then.
_HOLDER = """
import contextlib, fcntl, json, os, socket, sys, time
try:
    from layerwise.locks import folder_lock
except ImportError:
    @contextlib.contextmanager
    def folder_lock(folder, what):
        os.makedirs(folder, exist_ok=True)
        fd = os.open(os.path.join(folder, ".layerwise.lock"), os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.write(fd, json.dumps(record).encode())
        yield
with folder_lock(sys.argv[1], "results folder (--out)"):
    print("held", flush=True)
    sys.stdin.read()
"""


@contextlib.contextmanager
def lock_held_elsewhere(folder: Path) -> Iterator[subprocess.Popen]:
    """A second process holding ``folder``'s lock for the block (started with this
    interpreter and this checkout's package; ended when the block ends)."""
    import layerwise

    env = dict(os.environ, PYTHONPATH=str(Path(layerwise.__file__).resolve().parents[1]))
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout.readline().strip() == "held", "the holder did not take the lock"
        yield proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


def lock_left_by_a_killed_run(folder: Path) -> int:
    """``folder``'s lock file as a run killed by SIGKILL leaves it (its record names the
    ended process); returns that process's pid."""
    with lock_held_elsewhere(folder) as proc:
        proc.kill()
        proc.wait(timeout=30)
    return proc.pid


# ------------------------------------------------------------------ interrupting a run
#: A progress bar's line (tqdm), which an interruption may close after the signal.
BAR_RE = re.compile(r"\|\s*\d+/\d+ \[")


@dataclass
class Stopped:
    """How a run of ``python -m layerwise`` ended after a signal (:func:`interrupt`)."""

    returncode: int
    #: stderr from the signal on, split into lines at ``\n`` and ``\r``, progress bars and
    #: blank lines left out
    lines: list[str]
    #: the whole of stderr
    stderr: str
    #: seconds from the signal to the end of the process
    seconds: float
    #: processes of the run (its process group, and what it had started before the
    #: signal) still running once it ended: ``"pid command"``
    left: list[str]


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of ``pid`` from /proc, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def command_line(pid: int) -> str:
    """The command line of process ``pid`` (its first 120 characters), from /proc."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "?"


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, their children...), from /proc."""
    parent_of = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            parent_of[int(entry.name)] = stat[1]
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parent_of.items() if parent in frontier} - found
        found |= frontier
    return found


def running(pids: set[int], group: int) -> list[str]:
    """Of ``pids`` and the members of process group ``group``, those still running (a
    zombie has ended: it waits only for its parent to read its status)."""
    members = set(pids)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _proc_stat(int(entry.name))) is not None:
            if stat[2] == group:
                members.add(int(entry.name))
    alive = []
    for pid in sorted(members):
        stat = _proc_stat(pid)
        if stat is not None and stat[0] not in ("Z", "X"):
            alive.append(f"{pid} {command_line(pid)}")
    return alive


def interrupt(
    argv: list[str],
    ready: str | Callable[[int], bool],
    signum: int,
    *,
    to_group: bool = False,
    sigint_ignored: bool = False,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    wait_s: float = 600,
) -> Stopped:
    """Run ``python -m layerwise *argv`` in a session of its own, wait until it is
    ``ready`` (a regular expression that a line of its stdout or stderr matches, or a
    function of its process id that says so), send ``signum``, and wait for it to end.

    ``to_group``: the signal goes to the whole process group, as a Ctrl-C at a terminal
    does (else to the process only, as ``kill`` does). ``sigint_ignored``: the process
    starts with SIGINT ignored, as a job that a script starts in the background does.
    The package imported is this test run's. A run that does not get ready, or does not
    stop within ``wait_s`` seconds, is killed with everything it started, and the test
    fails."""
    import layerwise

    src = str(Path(layerwise.__file__).resolve().parents[1])
    # the run's own progress bars are what a test waits for: a TQDM_DISABLE left in this
    # process (a book build sets it for its kernels) must not reach the run
    inherited = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    full_env = inherited | {"HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"} | (env or {})
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (src, os.environ.get("PYTHONPATH", "")) if p
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "layerwise", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
        env=full_env,
        start_new_session=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        if sigint_ignored
        else None,
    )
    pattern = re.compile(ready) if isinstance(ready, str) else None
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    seen = threading.Event()

    def read(name: str) -> None:
        pending = ""
        for chunk in iter(lambda: getattr(child, name).read1(4096), b""):
            pending += chunk.decode(errors="replace")
            *lines, pending = re.split(r"[\r\n]", pending)
            streams[name] += lines
            if pattern is not None and any(pattern.search(line) for line in lines):
                seen.set()
        streams[name].append(pending)

    readers = [threading.Thread(target=read, args=(n,), daemon=True) for n in streams]
    for reader in readers:
        reader.start()
    started: set[int] = set()
    try:
        deadline = time.monotonic() + wait_s
        while not (seen.is_set() if pattern is not None else ready(child.pid)):  # type: ignore[operator]
            assert child.poll() is None, (
                f"the run ended (rc {child.returncode}) before it was ready:\n"
                + "\n".join(streams["stderr"][-20:])
            )
            assert time.monotonic() < deadline, f"not ready within {wait_s} s"
            time.sleep(0.05)
        started = descendants(child.pid)
        after = len(streams["stderr"])
        sent = time.monotonic()
        (os.killpg if to_group else os.kill)(child.pid, signum)
        child.wait(timeout=wait_s)
        seconds = time.monotonic() - sent
    finally:
        if child.poll() is None:  # never left running, whatever failed above
            for pid in descendants(child.pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    for reader in readers:
        reader.join(timeout=30)
    left = running(started, child.pid)
    deadline = time.monotonic() + 10  # what ends with the run may take a moment
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = running(started, child.pid)
    for line in left:  # not left running after the test, whatever it asserts
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(line.split()[0]), signal.SIGKILL)
    lines = [line for line in streams["stderr"][after:] if line.strip() and not BAR_RE.search(line)]
    return Stopped(child.returncode, lines, "\n".join(streams["stderr"]), seconds, left)


def assert_stopped_cleanly(stopped: Stopped, signum: int, finished: str) -> None:
    """``stopped`` printed one line on stderr after the signal, saying which signal, what
    finished (a regular expression) and that a re-run resumes; exited with 128 + the
    signal's number; printed no traceback; left nothing running."""
    name = {signal.SIGINT: r"Ctrl-C \(SIGINT\)", signal.SIGTERM: "SIGTERM"}[signum]
    assert stopped.returncode == 128 + signum, (stopped.returncode, stopped.stderr[-3000:])
    assert "Traceback" not in stopped.stderr, stopped.stderr[-3000:]
    assert len(stopped.lines) == 1, stopped.lines
    line = re.compile(f"interrupted by {name}: {finished}; re-run the same command to resume")
    assert line.fullmatch(stopped.lines[0]), stopped.lines[0]
    assert stopped.left == [], stopped.left
