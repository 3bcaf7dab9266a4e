"""Tests for layerwise.cache: keys, hits, and rejection of damaged or unsafe entries."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

import layerwise.store.cache as store_cache
import layerwise.store.cached as store_cached
import layerwise.store.entries as store_entries
from layerwise.errors import CacheError
from layerwise.extract.batched import extract
from layerwise.extract.requests import Request, word_requests
from layerwise.extract.states import Extracted
from layerwise.store.cache import Cache, default_cache_dir
from layerwise.store.cached import cached_extract
from layerwise.store.keys import cache_key

WORDS = ["cat", "dog", "unbelievable"]


@pytest.fixture
def requests(tiny_clip) -> list[Request]:
    return word_requests(tiny_clip, WORDS, "wrapped")


@pytest.fixture
def cache(tmp_path: Path) -> Cache:
    return Cache(tmp_path / "cache")


def _toy(with_alt: bool = True) -> Extracted:
    rng = np.random.default_rng(0)
    states = rng.standard_normal((5, 3, 8)).astype(np.float32)
    alt = rng.standard_normal((5, 8)).astype(np.float32) if with_alt else None
    return Extracted(states, alt)


KEY = "ab" + "0" * 62


def _counting(result: Extracted):
    calls = []

    def compute() -> Extracted:
        calls.append(1)
        return result

    return compute, calls


# ---------------------------------------------------------------------------------------------
# hits and misses
# ---------------------------------------------------------------------------------------------


def test_second_call_is_a_hit_and_does_not_run_the_model(tiny_clip, requests, cache, monkeypatch):
    first = cached_extract(tiny_clip, requests, label="words", cache=cache)
    assert (cache.hits, cache.misses) == (0, 1)
    reference = extract(tiny_clip, requests)
    np.testing.assert_array_equal(first.states, reference.states)

    def boom(*args, **kwargs):
        raise AssertionError("the model was run on a cache hit")

    monkeypatch.setattr(store_cached, "extract", boom)
    second = cached_extract(tiny_clip, requests, label="words", cache=cache)
    assert (cache.hits, cache.misses) == (1, 1)
    np.testing.assert_array_equal(second.states, first.states)
    np.testing.assert_array_equal(second.top_alt, first.top_alt)
    assert second.states.dtype == np.float32
    # a different label misses, so it needs the (now broken) model
    with pytest.raises(AssertionError, match="cache hit"):
        cached_extract(tiny_clip, requests, label="other", cache=cache)


def test_no_cache_always_computes(tiny_clip, requests, monkeypatch):
    calls = []
    real = store_cached.extract

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(store_cached, "extract", counting)
    cached_extract(tiny_clip, requests, label="words", cache=None)
    cached_extract(tiny_clip, requests, label="words", cache=None)
    assert len(calls) == 2


def test_key_depends_on_label_requests_and_model(tiny_clip, tiny_gpt2, requests):
    key = cache_key(tiny_clip, requests, "words")
    assert key == cache_key(tiny_clip, list(requests), "words")
    assert len(key) == 64 and int(key, 16) >= 0
    assert cache_key(tiny_clip, requests, "words2") != key
    eos = word_requests(tiny_clip, WORDS, "eos")  # same ids, other reads
    assert [r.ids for r in eos] == [r.ids for r in requests]
    assert cache_key(tiny_clip, eos, "words") != key
    assert cache_key(tiny_clip, requests[:2], "words") != key
    assert cache_key(tiny_gpt2, requests, "words") != key


def test_entry_path_is_sharded_by_key_prefix(cache):
    assert cache.path(KEY) == cache.root / "ab" / f"{KEY}.safetensors"


def test_roundtrip_with_and_without_top_alt(cache):
    for with_alt in (True, False):
        result = _toy(with_alt)
        cache.save(KEY, result)
        loaded = cache.load(KEY)
        np.testing.assert_array_equal(loaded.states, result.states)
        if with_alt:
            np.testing.assert_array_equal(loaded.top_alt, result.top_alt)
        else:
            assert loaded.top_alt is None
    assert cache.rejected == []


def test_missing_entry_is_none_without_rejection(cache):
    assert cache.load(KEY) is None
    assert cache.rejected == []


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LAYERWISE_CACHE", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    monkeypatch.delenv("LAYERWISE_CACHE")
    # inside a layerwise checkout (a notebook's working directory), its .cache folder
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root / "notebooks")
    assert default_cache_dir() == root / ".cache" / "layerwise"
    # anywhere else, the user's cache
    monkeypatch.chdir(tmp_path)
    assert default_cache_dir() == Path.home() / ".cache" / "layerwise"


# ---------------------------------------------------------------------------------------------
# damaged entries
# ---------------------------------------------------------------------------------------------


def _assert_rejected_then_recomputed(cache: Cache, path: Path) -> None:
    assert cache.load(KEY) is None
    assert len(cache.rejected) == 1 and str(path) in cache.rejected[0]
    assert not path.exists()
    # get_or_compute recomputes (and rewrites) instead of using the damaged entry
    fresh = _toy()
    compute, calls = _counting(fresh)
    got = cache.get_or_compute(KEY, compute)
    assert calls == [1]
    np.testing.assert_array_equal(got.states, fresh.states)
    assert cache.load(KEY) is not None


def test_truncated_entry_is_rejected(cache):
    path = cache.save(KEY, _toy())
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    _assert_rejected_then_recomputed(cache, path)


def test_flipped_byte_is_rejected(cache):
    path = cache.save(KEY, _toy())
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    _assert_rejected_then_recomputed(cache, path)


def test_an_entry_is_verified_once_per_process_until_its_file_changes(cache, monkeypatch):
    """A second read of an unchanged entry skips the checksum pass; a byte flipped in place
    after the first read (same inode, new modification time) is still caught."""
    path = cache.save(KEY, _toy())
    verified: list[bool] = []
    real = store_cache.read_entry
    monkeypatch.setattr(
        store_cache,
        "read_entry",
        lambda p, *, verify: verified.append(verify) or real(p, verify=verify),
    )
    assert cache.load(KEY) is not None and cache.load(KEY) is not None
    assert verified == [True, False]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    before = path.stat()
    with path.open("r+b") as handle:  # in place: the same file, its bytes changed
        handle.write(bytes(raw))
    # a clock tick later, as any real change is (the test writes within the same tick)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 10_000_000))
    assert path.stat().st_ino == before.st_ino
    _assert_rejected_then_recomputed(cache, path)
    assert verified[2] is True


def test_changed_array_with_stale_checksum_is_rejected(cache):
    """Arrays rewritten consistently (a valid file) but not matching the stored sha256."""
    path = cache.save(KEY, _toy())
    with safe_open(path, framework="np") as entry:
        meta = entry.metadata()
        arrays = {k: entry.get_tensor(k) for k in entry.keys()}
    arrays["layer_001"] = arrays["layer_001"] + 1.0
    save_file(arrays, path, metadata=meta)
    _assert_rejected_then_recomputed(cache, path)


def test_entry_stored_under_another_key_is_rejected(cache):
    other = "cd" + "1" * 62
    source = cache.save(other, _toy())
    target = cache.path(KEY)
    target.parent.mkdir(parents=True, exist_ok=True)
    source.rename(target)
    _assert_rejected_then_recomputed(cache, target)


def test_a_hit_after_recompute_counts(cache):
    compute, calls = _counting(_toy())
    cache.get_or_compute(KEY, compute)
    cache.get_or_compute(KEY, compute)
    assert calls == [1]
    assert (cache.hits, cache.misses) == (1, 1)


_UNPICKLED: list[str] = []


def _mark_unpickled() -> str:
    _UNPICKLED.append("ran")
    return "payload"


class _Payload:
    """Unpickling this object calls :func:`_mark_unpickled`."""

    def __reduce__(self):
        return (_mark_unpickled, ())


def test_object_arrays_are_never_unpickled(cache):
    """An entry holding an object array, with a matching key: np.load must refuse it."""
    path = cache.path(KEY)
    path.parent.mkdir(parents=True)
    states = np.empty(1, dtype=object)
    states[0] = _Payload()
    meta = json.dumps({"key": KEY, "sha256": "0" * 64})
    with path.open("wb") as handle:  # the entry's name, a zip's bytes
        np.savez(handle, meta=np.array(meta), states=states)
    with zipfile.ZipFile(path) as archive:  # the file really holds a pickle
        assert "states.npy" in archive.namelist()
    assert cache.load(KEY) is None
    assert _UNPICKLED == []
    assert len(cache.rejected) == 1
    assert not path.exists()


# ---------------------------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------------------------


def test_save_leaves_no_temporary_file(cache):
    path = cache.save(KEY, _toy())
    assert path == cache.path(KEY) and path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    assert not list(cache.root.rglob("*.tmp"))


def test_failed_write_leaves_nothing_behind(cache, monkeypatch):
    cache.save(KEY, _toy())
    good = cache.path(KEY).read_bytes()

    def partial_write(handle, key, result):
        handle.write(b"PK\x03\x04 partial")
        raise OSError("disk full")

    monkeypatch.setattr(store_cache, "write_arrays", partial_write)
    with pytest.raises(CacheError, match="disk full"):
        cache.save(KEY, _toy(with_alt=False))
    # the previous entry is intact and no temporary file is left
    assert cache.path(KEY).read_bytes() == good
    assert not list(cache.root.rglob("*.tmp"))


# ---------------------------------------------------------------------------------------------
# corrupted entries of every kind are rejected, never used
# ---------------------------------------------------------------------------------------------


def test_corrupted_header_length_is_rejected(cache):
    path = cache.save(KEY, _toy())
    raw = bytearray(path.read_bytes())
    raw[6] = 0xFF  # the header's length (8 bytes, little-endian) -> past the file's end
    path.write_bytes(bytes(raw))
    assert cache.load(KEY) is None
    assert not path.exists()


def test_metadata_that_is_not_an_entry_s_is_rejected(cache):
    path = cache.path(KEY)
    path.parent.mkdir(parents=True)
    save_file({"layer_000": np.zeros((2, 3), dtype=np.float32)}, path, metadata={"k": "[1, 2]"})
    assert cache.load(KEY) is None
    assert not path.exists()


# ---------------------------------------------------------------------------------------------
# keys name what was computed: token ids and read spans, whatever code built them
# ---------------------------------------------------------------------------------------------


def test_an_overridden_request_builder_is_never_served_stale_arrays(
    tiny_gpt2, tmp_path, monkeypatch
):
    """A researcher overrides, at run time, the function that builds the word requests so
    that the first subtoken is read instead of the last: the same words, the same number
    of reads, the same label. The cache must compute the new reads, not serve the old."""
    import layerwise.measure.words as measure_words
    from layerwise.measure.common import MeasureOptions

    s = MeasureOptions(cache=Cache(tmp_path))
    words = ["supercalifragilistic", "antidisestablishment", "cat"]
    before = measure_words.word_states(tiny_gpt2, words, ["bare"], s)["bare"]
    real = measure_words.word_requests

    def first_subtoken(lm, ws, setting, **kw):
        return [Request(r.ids, ((0, 1),)) for r in real(lm, ws, setting, **kw)]

    monkeypatch.setattr(measure_words, "word_requests", first_subtoken)
    after = measure_words.word_states(tiny_gpt2, words, ["bare"], s)["bare"]
    fresh = extract(tiny_gpt2, first_subtoken(tiny_gpt2, words, "bare"))
    np.testing.assert_allclose(after.states, fresh.states, rtol=1e-5, atol=1e-6)
    assert not np.allclose(after.states[:2], before.states[:2])  # multi-token words differ
    np.testing.assert_allclose(after.states[2], before.states[2], rtol=1e-5, atol=1e-6)


def test_a_warm_run_tokenizes_but_never_loads_weights(tmp_path):
    """With the spec cached, a second load defers the weights; a warm extraction builds
    its requests (tokenizer only) and is served from the cache without them."""
    from layerwise.measure.common import MeasureOptions
    from layerwise.measure.words import word_states
    from layerwise.models.loading import load_model

    cache = Cache(tmp_path / "cache")
    s = MeasureOptions(cache=cache)
    cold = load_model("tiny:gpt2", device="cpu", cache_dir=tmp_path / "cache")
    first = word_states(cold, ["cat", "dog"], ["wrapped", "eos"], s)
    warm = load_model("tiny:gpt2", device="cpu", cache_dir=tmp_path / "cache", lazy=True)
    assert not warm.weights_loaded
    second = word_states(warm, ["cat", "dog"], ["wrapped", "eos"], s)
    assert not warm.weights_loaded
    np.testing.assert_array_equal(first["eos"].states, second["eos"].states)


# ---------------------------------------------------------------------------------------------
# states on disk, one layer at a time (issue 17)
# ---------------------------------------------------------------------------------------------


def test_entry_is_layer_major_and_read_one_layer_at_a_time(cache, monkeypatch):
    """An entry holds one tensor per layer (``layer_000`` ... [n, d]): a hit reads each
    layer by itself from the file (equal to the saved states), and reads them all only
    when ``states`` is asked for."""
    toy = _toy()
    path = cache.save(KEY, toy)
    with safe_open(path, framework="np") as entry:
        for k in range(3):
            np.testing.assert_array_equal(entry.get_tensor(f"layer_{k:03d}"), toy.states[:, k])
    got = cache.load(KEY, expect=(5, 3, 8), alt=True)
    assert got.on_disk and got.file == path and got.shape == (5, 3, 8)
    reads: list[str] = []
    real = store_entries.safe_open

    class Counting:
        def __init__(self, *args, **kwargs):
            self.inner = real(*args, **kwargs).__enter__()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.inner.__exit__(*exc)

        def get_tensor(self, name):
            reads.append(name)
            return self.inner.get_tensor(name)

    monkeypatch.setattr(store_entries, "safe_open", Counting)
    for k in range(3):
        np.testing.assert_array_equal(got.layer(k), toy.states[:, k])
    assert reads == ["layer_000", "layer_001", "layer_002"]  # one layer per read, no other
    np.testing.assert_array_equal(got.states, toy.states)
    np.testing.assert_array_equal(got.top_alt, toy.top_alt)


def test_extraction_spills_to_disk_and_equals_the_in_memory_result(tmp_path, tiny_gpt2):
    """``extract(..., spill=folder)`` writes the states layer-major to a temporary there as
    the batches come: the same numbers as in memory; through the cache the spill becomes
    the entry and is removed."""
    requests = word_requests(tiny_gpt2, ["cat", "dog", "house", "river", "sky"], "wrapped")
    memory = extract(tiny_gpt2, requests, batch_size=2)
    spilled = extract(tiny_gpt2, requests, batch_size=2, spill=tmp_path)
    assert spilled.on_disk and spilled.file.parent == tmp_path
    assert spilled.file.name.startswith(".layerwise-states-")
    np.testing.assert_array_equal(spilled.states, memory.states)
    np.testing.assert_array_equal(spilled.top_alt, memory.top_alt)
    cache = Cache(tmp_path / "c")
    got = cached_extract(tiny_gpt2, requests, label="t", cache=cache, batch_size=2)
    assert got.on_disk and got.file == cache.path(cache_key(tiny_gpt2, requests, "t"))
    assert not [p for p in cache.root.iterdir() if p.name.startswith(".layerwise-")]
    np.testing.assert_array_equal(got.states, memory.states)
