"""Exceptions raised by the :mod:`layerwise` package.

Every error the package raises on bad input derives from :class:`LayerwiseError`,
so callers can catch one class. Messages always say what went wrong and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "LayerwiseError",
    "DataError",
    "ModelLoadError",
    "ProbeError",
    "InputError",
    "CacheError",
    "OutputError",
    "BusyError",
]


class LayerwiseError(Exception):
    """Base class: every error the package raises on bad input."""


class DataError(LayerwiseError):
    """A data file is missing, corrupted or malformed."""


class ModelLoadError(LayerwiseError):
    """A model cannot be loaded; the message names the model and the remedies."""


class ProbeError(ModelLoadError):
    """A model fact (special tokens, final norm, window, causality) that the load-time
    probes cannot settle; the message names the model, the fact and the remedy."""

    def __init__(self, model: str, fact: str, why: str, remedy: str) -> None:
        self.model, self.fact = model, fact
        super().__init__(f"model {model!r}: cannot settle its {fact}: {why}. Remedy: {remedy}")


class InputError(LayerwiseError, ValueError):
    """An argument (word, sentence, setting) is invalid."""


class CacheError(LayerwiseError):
    """The cache folder cannot be written (permissions, full disk); the message names it."""


class OutputError(LayerwiseError):
    """A result file or folder cannot be written (read-only folder, full disk...); the
    message names the path and the remedy."""


class BusyError(LayerwiseError):
    """Another run holds the folder's lock (``layerwise.locks``); the message names it
    (pid, host, command, since when) and the folder."""
