"""Models: load any Hugging Face text model and measure, at load, every fact extraction needs.

The public names below are imported on first use (PEP 562), so reading
:mod:`layerwise.models.hub` or :mod:`layerwise.models.pooling` does not import torch.

- :func:`load_model` (:mod:`.loading`): a hub id, folder, ``package:`` or ``tiny:`` source
  -> :class:`LoadedModel`;
- :class:`ModelSpec` (:mod:`.spec`): the facts the probes (:mod:`.probes`) found;
- :func:`check_device` (:mod:`.device`), :func:`hub_availability` (:mod:`.hub`),
  :func:`resolve_origin` (:mod:`.sources`).

Chapter 2 (``notebooks/02_extraction``) explains loading and the spec.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "load_model": "loading",
    "LoadedModel": "spec",
    "ModelSpec": "spec",
    "DISPLAY_NAMES": "spec",
    "display_name": "spec",
    "check_device": "device",
    "pick_device": "device",
    "DTYPES": "device",
    "hub_availability": "hub",
    "resolve_origin": "sources",
    "Origin": "sources",
    "PACKAGED_MODELS": "sources",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'layerwise.models' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
