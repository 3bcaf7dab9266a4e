"""One run per folder: an exclusive lock on a build or results folder that names its holder.

:func:`folder_lock` holds ``<folder>/.layerwise.lock`` for the length of a ``with`` block.
The lock is an ``fcntl.flock`` on that file, which the operating system drops when the
holder's process ends however it ends (killed, crashed, the machine rebooted), so a lock
is never left held by a process that is gone. The file records who holds it (pid, host,
command, since when): a second run in the folder fails at once with a
:class:`~layerwise.errors.BusyError` naming them, and a run that finds the record of a
holder that ended without removing it (``kill -9``) takes the lock over and says so in one
line. Where the file system has no ``flock`` (some network or FUSE mounts), the record
decides: a holder on this host whose process is gone is taken over; a live one, or one on
another host, holds the folder.

The lock is reentrant within a process (a run that holds a folder may call another
function that takes the same folder's lock), and the file is removed when the lock is
released.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .errors import BusyError
from .files import _pid_alive

try:  # POSIX; elsewhere the record alone decides
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

#: Name of the lock file in a locked folder.
LOCK_NAME = ".layerwise.lock"
#: Lock files this process holds: path -> file descriptor.
_HELD: dict[str, int] = {}
#: errno values of a file system that does not lock (treated as "no flock here").
_NO_LOCKING = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


def command_line() -> str:
    """This process's command line as typed (``python -m layerwise book ...``), on one line
    and at most 200 characters."""
    try:
        raw = Path("/proc/self/cmdline").read_bytes()
        args = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    except OSError:
        args = []
    if not args:
        args = [Path(sys.executable).name, *sys.argv]
    args[0] = Path(args[0]).name
    text = " ".join(shlex.join(args).split())
    return text if len(text) <= 200 else text[:197] + "..."


def holder_record(what: str) -> dict[str, Any]:
    """What a lock file says about the process holding it."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command_line(),
        "since": time.time(),
        "what": what,
    }


def describe(holder: dict[str, Any], now: float | None = None) -> str:
    """``pid 123 on host h (`python -m layerwise book`) since 2026-01-02 10:11:12, 5 s ago``
    for a holder record; a record that cannot be read is "a process that has not yet
    written its details"."""
    if not holder.get("pid"):
        return "a process that has not yet written its details"
    text = f"pid {holder['pid']} on host {holder.get('host', '?')}"
    if holder.get("command"):
        text += f" (`{holder['command']}`)"
    since = holder.get("since")
    if isinstance(since, (int, float)):
        age = max(0.0, (time.time() if now is None else now) - since)
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(since))
        text += f" since {stamp} ({_age(age)} ago)"
    return text


def _age(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _read(fd: int) -> dict[str, Any]:
    """The holder record in an open lock file ({} when empty or unreadable)."""
    try:
        data = os.pread(fd, 65536, 0)
        found = json.loads(data.decode()) if data.strip() else {}
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _flock(fd: int) -> bool:
    """Take the exclusive lock without waiting: True when taken, False when this file system
    does not lock; raises :class:`BlockingIOError` when another process holds it."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise
    except OSError as err:
        if err.errno in _NO_LOCKING:
            return False
        raise
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (a releasing holder removes the
    file: a lock taken on a removed file locks nothing)."""
    try:
        st, fst = path.stat(), os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == (fst.st_dev, fst.st_ino)


def _alive(holder: dict[str, Any]) -> bool:
    """Whether a holder record names a live process (one on another host counts as live:
    it cannot be checked from here)."""
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    if holder.get("host") != socket.gethostname():
        return True
    return pid != os.getpid() and _pid_alive(pid)


def busy_error(folder: Path, what: str, holder: dict[str, Any]) -> BusyError:
    """The one line a run gets when another holds ``folder``."""
    return BusyError(
        f"the {what} {folder} is in use by another run: {describe(holder)}. Two runs in one "
        "folder would overwrite each other's files. Remedy: wait for that run to finish (or "
        f"stop it), then run again; or use another folder. The lock is {folder / LOCK_NAME}."
    )


def _acquire(folder: Path, what: str, log: Callable[[str], None] | None) -> int:
    """Open and lock ``folder/LOCK_NAME``, write this process's record; returns the file
    descriptor. Raises :class:`BusyError` when another run holds it, OSError when the
    folder cannot be written."""
    path = folder / LOCK_NAME
    folder.mkdir(parents=True, exist_ok=True)
    left: dict[str, Any] = {}
    for _ in range(20):
        try:
            fd, writable = os.open(path, os.O_RDWR | os.O_CREAT, 0o666), True
        except PermissionError:  # another user's lock file: readable, and lockable read-only
            fd, writable = os.open(path, os.O_RDONLY), False
        try:
            try:
                locked = _flock(fd)
            except BlockingIOError:
                raise busy_error(folder, what, _read(fd)) from None
            if not _same_file(fd, path):
                os.close(fd)
                continue
            previous = _read(fd)
            if not locked and _alive(previous):
                raise busy_error(folder, what, previous)
            left = left or previous
            if not writable:  # a stale lock file this user cannot write: replace it
                path.unlink()
                os.close(fd)
                continue
            record = json.dumps(holder_record(what)).encode()
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        except BaseException:
            with contextlib.suppress(OSError):
                os.close(fd)
            raise
        if left.get("pid") and log is not None:
            log(
                f"note: took over the lock of the {what} {folder} left by "
                f"{describe(left)}, which is no longer running"
            )
        return fd
    raise BusyError(
        f"the {what} {folder} could not be locked: its lock file {path} keeps being "
        "replaced by other runs. Remedy: wait for them to finish, then run again."
    )


def _print_note(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def folder_lock(
    folder: str | os.PathLike[str],
    what: str = "folder",
    log: Callable[[str], None] | None = _print_note,
) -> Iterator[Path]:
    """Hold ``folder``'s lock for the ``with`` block (creating the folder); yields the lock
    file.

    ``what`` names the folder in messages ("results folder (--out)"). Raises
    :class:`~layerwise.errors.BusyError` at once when another run holds it (naming its pid,
    host, command and since when); a lock left by a process that has ended is taken over,
    with a one-line note to ``log`` (standard error by default). An :class:`OSError` of the
    folder (read-only, full disk) propagates for the caller to name.
    """
    folder = Path(folder).absolute()
    path = folder / LOCK_NAME
    key = os.path.realpath(path)
    if key in _HELD:  # this process holds it already: the outer block releases it
        yield path
        return
    fd = _acquire(folder, what, log)
    _HELD[key] = fd
    try:
        yield path
    finally:
        del _HELD[key]
        if _same_file(fd, path):
            with contextlib.suppress(OSError):
                path.unlink()  # while still locked: a waiting opener sees another file
        os.close(fd)
