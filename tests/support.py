"""Helpers several test files share (importable as ``support``: ``pythonpath`` in
pyproject.toml). Fixtures live in tests/conftest.py; this module holds plain values and
functions."""

from __future__ import annotations

import os
import pickle
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
