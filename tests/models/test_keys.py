"""store.keys: an extraction's cache key follows the weights, the code, the dtype and the
device type, so a changed input is never served stale states."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

import layerwise.store.keys as store_keys
from layerwise.extract.requests import word_requests
from layerwise.models import fingerprint
from layerwise.models.loading import load_model
from layerwise.models.spec import LoadedModel
from layerwise.store.cache import Cache
from layerwise.store.cached import cached_extract
from layerwise.store.keys import cache_key

WORDS = ["cat", "dog", "house"]


def _save_tiny(lm: LoadedModel, folder: Path) -> Path:
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    return folder


def test_local_weights_replaced_in_place_are_not_served_stale(tiny_gpt2, tmp_path):
    folder = _save_tiny(tiny_gpt2, tmp_path / "model")
    cache = Cache(tmp_path / "cache")
    lm = load_model(str(folder), device="cpu", cache_dir=cache.root)
    requests = word_requests(lm, WORDS, "bare")
    first = cached_extract(lm, requests, label="w", cache=cache)
    # replace the weights in place: same folder, same file names, new values
    with torch.no_grad():
        for p in lm.model.parameters():
            p.mul_(-1.0)
    lm.model.save_pretrained(folder)
    changed = load_model(str(folder), device="cpu", cache_dir=cache.root)
    assert changed.spec.fingerprint != lm.spec.fingerprint
    assert cache_key(changed, requests, "w") != cache_key(lm, requests, "w")
    second = cached_extract(changed, requests, label="w", cache=cache)
    assert (cache.hits, cache.misses) == (0, 2)
    assert not np.allclose(first.states[:, 1:], second.states[:, 1:])


def test_code_change_invalidates_keys(tiny_clip, monkeypatch):
    requests = word_requests(tiny_clip, WORDS, "bare")
    before = cache_key(tiny_clip, requests, "w")
    monkeypatch.setattr(store_keys, "code_version", lambda: "another-version")
    assert cache_key(tiny_clip, requests, "w") != before
    # and the real code version is a hash of the extraction modules' source
    assert len(fingerprint.code_version()) == 16


def test_dtype_and_device_type_are_in_the_key(tiny_clip):
    requests = word_requests(tiny_clip, WORDS, "bare")
    half = dataclasses.replace(tiny_clip.spec, dtype="bfloat16")
    other = LoadedModel(half, tiny_clip.tokenizer, tiny_clip.model, tiny_clip.final_norm)
    assert cache_key(other, requests, "w") != cache_key(tiny_clip, requests, "w")


def test_device_type_but_not_the_device_index_is_in_the_key(tiny_clip):
    """Only the spec's device changes (no GPU needed: nothing runs, only keys are made):
    another device type is another key, another index of the same type is the same key."""
    requests = word_requests(tiny_clip, WORDS, "bare")

    def on(device: str) -> LoadedModel:
        spec = dataclasses.replace(tiny_clip.spec, device=device)
        return LoadedModel(spec, tiny_clip.tokenizer, tiny_clip.model, tiny_clip.final_norm)

    assert tiny_clip.spec.device == "cpu"
    cpu, cuda, cuda0, cuda1 = on("cpu"), on("cuda"), on("cuda:0"), on("cuda:1")
    assert store_keys.model_identity(cpu) == store_keys.model_identity(tiny_clip)
    assert store_keys.model_identity(cuda)["device"] == "cuda"
    assert store_keys.model_identity(cpu)["device"] == "cpu"
    assert cache_key(cuda, requests, "w") != cache_key(cpu, requests, "w")
    assert store_keys.model_identity(cuda0) == store_keys.model_identity(cuda1)
    assert cache_key(cuda0, requests, "w") == cache_key(cuda1, requests, "w")
    assert cache_key(cuda0, requests, "w") == cache_key(cuda, requests, "w")
