"""Tests for layerwise.store.entries: an extraction entry is a standard safetensors file,
read one layer at a time, bit-identical, and verified (issue 22, "storage on a standard
format")."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from layerwise.extract.states import Extracted
from layerwise.store.cache import Cache
from layerwise.store.entries import EntryLayers, entry_metadata, read_entry

KEY = "ab" + "1" * 62


def _awkward(with_alt: bool = True) -> Extracted:
    """States with every kind of float32: normal, subnormal, +-0, +-inf, NaNs of several
    payloads, so a round trip must keep the bits, not only the values."""
    rng = np.random.default_rng(7)
    states = rng.standard_normal((6, 4, 5)).astype(np.float32)
    bits = states.view(np.uint32)
    bits[0, 0, :5] = [0x00000001, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00001]
    bits[1, 2, :2] = [0x7FA00000, 0x00400000]
    alt = rng.standard_normal((6, 5)).astype(np.float32) if with_alt else None
    return Extracted(states, alt)


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def test_an_entry_is_a_safetensors_file_any_reader_opens(cache):
    toy = _awkward()
    path = cache.save(KEY, toy)
    assert path.suffix == ".safetensors"
    tensors = load_file(path)
    assert sorted(tensors) == ["layer_000", "layer_001", "layer_002", "layer_003", "top_alt"]
    for k in range(4):
        layer = np.ascontiguousarray(toy.states[:, k])
        assert tensors[f"layer_{k:03d}"].tobytes() == layer.tobytes()
    assert tensors["top_alt"].tobytes() == toy.top_alt.tobytes()
    with safe_open(path, framework="np") as entry:
        meta = entry.metadata()
    assert meta["key"] == KEY and meta["shape"] == "6,4,5" and meta["top_alt"] == "yes"
    assert len(meta["sha256"]) == 64 and meta["sha256"] != "0" * 64


@pytest.mark.parametrize("with_alt", [True, False])
def test_read_back_is_bit_identical(cache, with_alt):
    toy = _awkward(with_alt)
    cache.save(KEY, toy)
    got = cache.load(KEY, expect=(6, 4, 5), alt=with_alt)
    assert cache.rejected == []
    assert got.states.dtype == np.float32
    assert got.states.tobytes() == toy.states.tobytes()
    for k in range(4):
        assert got.layer(k).tobytes() == np.ascontiguousarray(toy.states[:, k]).tobytes()
    if with_alt:
        assert got.top_alt.tobytes() == toy.top_alt.tobytes()
    else:
        assert got.top_alt is None


def test_an_entry_written_by_the_library_is_read(cache):
    """The reader relies on the format, not on this package's writer: a file written by
    ``safetensors.numpy.save_file`` (its own tensor order and header) with the entry's
    metadata is accepted, and gives the same states."""
    toy = _awkward()
    tensors = {f"layer_{k:03d}": np.ascontiguousarray(toy.states[:, k]) for k in range(4)}
    tensors["top_alt"] = toy.top_alt
    path = cache.path(KEY)
    path.parent.mkdir(parents=True)
    save_file(tensors, path, metadata=entry_metadata(KEY, toy))
    got = cache.load(KEY, expect=(6, 4, 5), alt=True)
    assert cache.rejected == [] and got is not None
    assert got.states.tobytes() == toy.states.tobytes()
    # the same metadata with one layer changed: the digest catches it
    tensors["layer_002"] = tensors["layer_002"] * 2
    save_file(tensors, path, metadata=entry_metadata(KEY, toy))
    assert Cache(cache.root).load(KEY) is None


def test_every_flipped_byte_is_caught(cache):
    """Any one byte changed anywhere in an entry (length, header, metadata, padding, a
    float) makes reading it with verification fail."""
    path = cache.save(KEY, _awkward())
    good = path.read_bytes()
    for i in range(len(good)):
        raw = bytearray(good)
        raw[i] ^= 0xFF
        path.write_bytes(bytes(raw))
        with pytest.raises(Exception):  # noqa: B017, PT011 - ValueError or SafetensorError
            read_entry(path, verify=True)


def test_an_old_format_entry_is_never_read(cache, tiny_gpt2):
    """An entry of the zip format (format 2, ``<key>.npz``) beside the new one is never
    opened: the cache computes the states again; a safetensors file whose metadata names
    another format is rejected."""
    old = cache.root / KEY[:2] / f"{KEY}.npz"
    old.parent.mkdir(parents=True)
    with zipfile.ZipFile(old, "w") as zf:
        zf.writestr("meta.npy", b"not read")
    assert cache.load(KEY) is None and cache.rejected == []
    assert old.exists()
    toy = _awkward()
    meta = {**entry_metadata(KEY, toy), "format": "2"}
    tensors = {f"layer_{k:03d}": np.ascontiguousarray(toy.states[:, k]) for k in range(4)}
    save_file({**tensors, "top_alt": toy.top_alt}, cache.path(KEY), metadata=meta)
    assert cache.load(KEY) is None
    assert len(cache.rejected) == 1 and "format 3" in cache.rejected[0]


def test_a_layer_of_a_vanished_entry_names_the_file_and_the_remedy(cache):
    cache.save(KEY, _awkward())
    got = cache.load(KEY)
    assert isinstance(got._layers, EntryLayers)
    got.file.unlink()
    with pytest.raises(OSError, match=r"(?s)cache entry .*\.safetensors.*Remedy: run again"):
        got.layer(1)
    with pytest.raises(IndexError):
        EntryLayers(cache.path(KEY), (6, 4, 5)).layer(4)


def test_an_entry_of_no_reads_round_trips(cache):
    """An extraction with no reads (``[0, n_states, d]``) is stored and read back."""
    cache.save(KEY, Extracted(np.zeros((0, 3, 4), np.float32), np.zeros((0, 4), np.float32)))
    got = cache.load(KEY, expect=(0, 3, 4), alt=True)
    assert cache.rejected == [] and got.layer(2).shape == (0, 4) and got.top_alt.shape == (0, 4)
