"""layerwise.locks: one run per folder. A second run in a held folder fails at once naming
the holder; a lock left by a process that has ended is taken over with a one-line note.

Before issue 25 nothing locked a folder: two ``book`` builds in one ``_build`` ran together
until the second died with jupyter_client's ``ValueError: Invalid Signature``, and two runs
into one results folder overwrote each other's tables."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from support import lock_held_elsewhere, lock_left_by_a_killed_run, one_line

from layerwise.errors import BusyError, LayerwiseError


def _locks():
    from layerwise import locks  # a module added by issue 25

    return locks


def test_a_folder_held_by_another_process_is_refused_naming_it(tmp_path):
    """A second run into a folder another run holds fails at once with a BusyError naming
    the holder's pid, host and command, and the folder (there was no lock before)."""
    locks = _locks()
    out = tmp_path / "results" / "tiny"
    with lock_held_elsewhere(out) as holder:
        with pytest.raises(BusyError) as info, locks.folder_lock(out, "results folder (--out)"):
            pytest.fail("the lock was taken while another process held it")
        message = one_line(info.value)
        assert isinstance(info.value, LayerwiseError)
        assert f"pid {holder.pid} on host {socket.gethostname()}" in message
        assert f"results folder (--out) {out}" in message and "in use by another run" in message
        assert "-c" in message and "since" in message and "Remedy" in message
    with locks.folder_lock(out):  # released when the holder ends
        pass


def test_a_lock_left_by_a_killed_run_is_taken_over_with_a_note(tmp_path):
    """A run killed with SIGKILL leaves its lock file (its record names it); the operating
    system dropped its flock, so the next run takes the lock and says so in one line."""
    locks = _locks()
    out = tmp_path / "out"
    dead = lock_left_by_a_killed_run(out)
    left = json.loads((out / locks.LOCK_NAME).read_text())
    assert left["pid"] == dead
    notes: list[str] = []
    with locks.folder_lock(out, "output folder (--out)", log=notes.append) as path:
        mine = json.loads(path.read_text())
        assert mine["pid"] == os.getpid() and mine["host"] == socket.gethostname()
    assert len(notes) == 1 and "\n" not in notes[0]
    assert f"took over the lock of the output folder (--out) {out}" in notes[0]
    assert f"pid {dead}" in notes[0] and "no longer running" in notes[0]
    assert not (out / locks.LOCK_NAME).exists()  # removed on release


def test_the_lock_is_reentrant_and_removed_on_release(tmp_path):
    """A run that holds a folder may call a function that takes the same lock; the file
    goes when the outer block ends, also when it ends with an error."""
    locks = _locks()
    notes: list[str] = []
    with pytest.raises(RuntimeError, match="inside"):
        with locks.folder_lock(tmp_path, log=notes.append) as path:
            with locks.folder_lock(tmp_path / ".", log=notes.append):
                assert path.exists()
            assert path.exists()
            raise RuntimeError("inside")
    assert not path.exists() and notes == []


@pytest.mark.parametrize("alive", [True, False], ids=["live-holder", "ended-holder"])
def test_without_flock_the_record_decides(tmp_path, monkeypatch, alive):
    """On a file system that does not lock (``flock`` fails with ENOLCK), a record naming
    a live process on this host holds the folder; one naming an ended process is taken
    over."""
    locks = _locks()
    monkeypatch.setattr(locks, "_flock", lambda fd: False)
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
    try:
        if not alive:
            proc.stdin.close()
            proc.wait(timeout=30)
        record = {"pid": proc.pid, "host": socket.gethostname(), "command": "layerwise book"}
        (tmp_path / locks.LOCK_NAME).write_text(json.dumps(record))
        notes: list[str] = []
        if alive:
            with pytest.raises(BusyError, match=f"pid {proc.pid} on host"):
                with locks.folder_lock(tmp_path, log=notes.append):
                    pass
        else:
            with locks.folder_lock(tmp_path, log=notes.append):
                pass
            assert len(notes) == 1 and f"pid {proc.pid}" in notes[0]
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            proc.wait(timeout=30)


def test_an_unreadable_record_still_names_the_folder(tmp_path):
    """A holder that has not yet written its record (the moment after its flock) is
    described as such, not as a crash of the message."""
    locks = _locks()
    err = locks.busy_error(tmp_path, "book's build folder", {})
    assert "has not yet written its details" in one_line(err) and str(tmp_path) in str(err)
