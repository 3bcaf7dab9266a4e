"""Helpers several test files share (importable as ``support``: ``pythonpath`` in
pyproject.toml). Fixtures live in tests/conftest.py; this module holds plain values and
functions."""

from __future__ import annotations

import contextlib
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
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
