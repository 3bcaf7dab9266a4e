"""Cache keys: what determines a result, hashed.

A key names the model (:func:`model_identity`: fingerprint of its weights, dtype, device
type, the spec fields extraction uses, the extraction code's hash), the inputs and a
label. An extraction's inputs are always the exact token ids and read spans of its
requests (:func:`requests_digest` in :mod:`layerwise.extract.requests`), whatever code
built them, so a changed request builder can never be served another computation's
arrays; cheap values computed from texts (token counts) are keyed by the texts and
parameters (:func:`texts_digest`). Chapter 2 explains the cache.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import torch

from ..extract.requests import Request, requests_digest
from ..models.fingerprint import code_version
from ..models.spec import LoadedModel

#: Spec fields that change what extraction returns (beyond the fingerprint).
KEY_SPEC_FIELDS = (
    "layer_sources",
    "batching",
    "n_layers",
    "hidden_size",
    "top_state",
    "final_norm",
    "prefix_ids",
    "suffix_ids",
    "open_id",
    "close_id",
    "pad_id",
    "max_length",
    "causal",
)


def key_of(parts: dict[str, Any]) -> str:
    """sha256 of a JSON-serialisable description of a result."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def model_identity(lm: LoadedModel) -> dict[str, Any]:
    """What identifies a model's results: fingerprint, dtype, device type, spec fields."""
    spec = lm.spec
    return {
        "fingerprint": spec.fingerprint or f"{spec.source}@{spec.revision}",
        "dtype": spec.dtype,
        "device": torch.device(spec.device).type,
        "spec": {name: getattr(spec, name) for name in KEY_SPEC_FIELDS},
        "code": code_version(),
    }


def cache_key(lm: LoadedModel, requests: Sequence[Request], label: str) -> str:
    return key_of(
        {"model": model_identity(lm), "label": label, "inputs": requests_digest(requests)}
    )


def texts_digest(texts: Sequence[str], **params: object) -> str:
    """sha256 of texts and parameters: the input part of the key of a value computed from
    texts alone (token counts), never of extracted states (:func:`cache_key`)."""
    return key_of({"texts": list(texts), "params": params})
