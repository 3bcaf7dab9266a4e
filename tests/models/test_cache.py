"""Tests for layerwise.cache: keys, hits, and rejection of damaged or unsafe entries."""

from __future__ import annotations

import json
import os
import stat
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors import safe_open
from safetensors.numpy import save_file

import layerwise.store.cache as store_cache
import layerwise.store.cached as store_cached
import layerwise.store.entries as store_entries
from layerwise import files
from layerwise.errors import CacheError
from layerwise.extract.batched import extract
from layerwise.extract.requests import Request, word_requests
from layerwise.extract.states import Extracted
from layerwise.files import TEMP_PREFIX
from layerwise.models.loading import load_model
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
    root = Path(__file__).resolve().parents[2]
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


def test_an_entry_changed_in_place_with_its_mtime_restored_is_verified_again(cache, monkeypatch):
    """An entry whose bytes change in place at the same size, its mtime then set back with
    ``os.utime``, keeps its device, inode, size and mtime: an identity of those alone
    (before issue 25) skipped the checksum pass and served the altered states. The ctime,
    which every write moves and nothing sets back, is part of the identity."""
    path = cache.save(KEY, _toy())
    verified: list[bool] = []
    real = store_cache.read_entry
    monkeypatch.setattr(
        store_cache,
        "read_entry",
        lambda p, *, verify: verified.append(verify) or real(p, verify=verify),
    )
    assert cache.load(KEY) is not None
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    before = path.stat()
    time.sleep(0.05)  # a later ctime tick
    with path.open("r+b") as handle:
        handle.write(bytes(raw))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the mtime put back
    after = path.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    _assert_rejected_then_recomputed(cache, path)
    assert verified[1] is True


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


DEAD_PID = 999_999_999  # above any pid Linux hands out


OLD = 1.0  # a modification time in 1970: older than any age limit


def test_cache_deletes_only_its_own_temporaries_in_its_own_folders(tmp_path):
    """Used to: ``Cache.clean_orphans`` deleted every ``*.tmp`` file or folder older than an
    hour anywhere under ``--cache-dir`` and any ``*.<digits>.tmp`` whose number was not a
    running process, so pointing the cache at a folder of one's work deleted some of it."""
    cache = Cache(tmp_path / "cache")
    root = cache.root
    shard, specs, tokenizers = (
        root / "ab",
        root / "models" / "specs",
        root / "models" / "tokenizers",
    )
    mine = root / "my-work"
    for folder in (shard, specs, tokenizers, mine):
        folder.mkdir(parents=True)
    user_files = [
        root / "notes.tmp",  # an old *.tmp
        root / "draft.12345.tmp",  # *.<pid>.tmp of a process that is gone
        shard / f"scratch.{DEAD_PID}.tmp",  # the same inside a shard folder
        mine / "old.tmp",
        mine / f"{files.TEMP_PREFIX}x.{DEAD_PID}.tmp",  # even our prefix, outside our folders
    ]
    for path in user_files:
        path.write_text("a user's work")
        os.utime(path, (OLD, OLD))
    user_folder = root / "experiment.tmp"  # a *.tmp folder with the user's files in it
    user_folder.mkdir()
    (user_folder / "results.csv").write_text("1,2")
    os.utime(user_folder, (OLD, OLD))
    orphans = [
        shard / f"{files.TEMP_PREFIX}abc.{DEAD_PID}.tmp",  # a killed cache write
        specs / f"{files.TEMP_PREFIX}def.{os.getpid()}.tmp",  # alive pid, but old
        root / f"{files.TEMP_PREFIX}probe-xyz.{DEAD_PID}.tmp",  # a killed writability probe
    ]
    for path in orphans:
        path.write_bytes(b"half")
    os.utime(orphans[1], (OLD, OLD))
    orphan_folder = tokenizers / f"{files.TEMP_PREFIX}tok.{DEAD_PID}.tmp"  # atomic_folder's
    orphan_folder.mkdir()
    (orphan_folder / "tokenizer.json").write_text("{}")
    running = shard / f"{files.TEMP_PREFIX}now.{os.getpid()}.tmp"  # a write in progress
    running.write_bytes(b"half")

    cache.ensure_writable()  # cleans, as before the first write of a run

    assert all(p.exists() for p in user_files)
    assert (user_folder / "results.csv").read_text() == "1,2"
    assert not any(p.exists() for p in orphans) and not orphan_folder.exists()
    assert running.exists()
    assert not list(root.glob(f"{files.TEMP_PREFIX}probe-*"))  # the probe is removed


def test_an_interrupted_writes_temporaries_are_cleaned_by_the_next_run(tmp_path):
    """Used to: a killed ``write_table`` left ``.<name>.csv.<pid>.tmp`` in the results
    folder for ever; nothing removed them. ``files.clean_own_temporaries`` (which
    ``write_table`` calls) removes the package's own and nothing else."""
    out = tmp_path / "results"
    out.mkdir()
    (out / "table.csv").write_text("a\n1\n")
    dead = out / f"{files.TEMP_PREFIX}table.csv-k2.{DEAD_PID}.tmp"
    dead.write_text("a\n")
    stale = out / f"{files.TEMP_PREFIX}provenance.json-q.{os.getpid()}.tmp"
    stale.write_text("{")
    os.utime(stale, (OLD, OLD))
    live = out / f"{files.TEMP_PREFIX}table.csv-z.{os.getpid()}.tmp"  # a write going on
    live.write_text("a\n")
    users = [out / "notes.tmp", out / f"x.{DEAD_PID}.tmp", out / ".hidden.tmp"]
    for path in users:
        path.write_text("keep")
        os.utime(path, (OLD, OLD))

    assert files.clean_own_temporaries(out) == 2
    assert not dead.exists() and not stale.exists()
    assert live.exists() and (out / "table.csv").exists()
    assert all(p.read_text() == "keep" for p in users)
    assert files.clean_own_temporaries(tmp_path / "absent") == 0


def test_cache_files_honour_the_users_umask(tmp_path):
    """Used to: every cache file was created mode 0600 (``mkstemp``), so a cache shared by a
    group was unreadable to its other members whatever their umask."""
    before = os.umask(0o002)
    try:
        cache = Cache(tmp_path / "cache")
        states = np.zeros((2, 3, 4), dtype=np.float32)
        entry = cache.save("ab" * 32, Extracted(states, None))
        table = cache.path("cd" * 32, ".csv")
        cache.get_or_compute_frame("cd" * 32, lambda: pd.DataFrame({"a": [1]}))
        with files.atomic_folder(tmp_path / "cache" / "models" / "tokenizers" / "t") as tmp:
            (tmp / "tokenizer.json").write_text("{}")
    finally:
        os.umask(before)
    for path in (entry, table):
        assert stat.S_IMODE(path.stat().st_mode) == 0o664, path
    folder = tmp_path / "cache" / "models" / "tokenizers" / "t"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o775


def test_a_read_only_warm_cache_is_read(tmp_path, monkeypatch):
    """Used to: a run proved the cache folder writable before anything else
    (``RunConfig.validate`` called ``Cache.ensure_writable``), so a complete warm cache on a
    read-only disk could not be read at all. Now a run checks ``Cache.check_readable`` and
    writability is proved only before a write (a miss)."""
    cache = Cache(tmp_path / "cache")
    frame = pd.DataFrame({"model": ["a", "b"], "value": [0.5, 0.25]})
    states = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    cache.get_or_compute_frame("aa" * 32, lambda: frame)
    cache.get_or_compute_json("bb" * 32, lambda: {"n": 3})
    cache.get_or_compute("cc" * 32, lambda: Extracted(states, None), expect=(2, 3, 4), alt=False)

    def read_only(self):
        raise CacheError(f"the cache folder {self.root} cannot be written (Read-only file system)")

    monkeypatch.setattr(Cache, "ensure_writable", read_only)
    warm = Cache(cache.root)
    warm.check_readable()  # what a run checks up front: no write

    def never():
        pytest.fail("a warm entry was computed again")

    pd.testing.assert_frame_equal(warm.get_or_compute_frame("aa" * 32, never), frame)
    assert warm.get_or_compute_json("bb" * 32, never) == {"n": 3}
    found = warm.get_or_compute("cc" * 32, never, expect=(2, 3, 4), alt=False)
    np.testing.assert_array_equal(found.states, states)
    computed = []
    with pytest.raises(CacheError, match="cannot be written"):  # a miss: before the work
        warm.get_or_compute_json("dd" * 32, lambda: computed.append(1))
    assert computed == []
    assert warm.report().startswith("extractions 1 reused, 0 computed; tables 1 reused")


THREE_WORDS = ["cat", "dog", "house"]


def _unwritable(tmp_path: Path) -> Path:
    """A folder path that cannot be created, even by root: its parent is a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return blocker / "inside"


def test_cached_array_of_the_wrong_shape_is_rejected(tiny_clip, tmp_path):
    cache = Cache(tmp_path / "cache")
    requests = word_requests(tiny_clip, THREE_WORDS, "bare")
    key = cache_key(tiny_clip, requests, "w")
    wrong = Extracted(np.zeros((2, 5, 64), np.float32), np.zeros((2, 64), np.float32))
    cache.save(key, wrong)  # a valid entry, but for two reads where three are asked for
    with pytest.warns(UserWarning, match="rejected"):
        good = cached_extract(tiny_clip, requests, label="w", cache=cache)
    assert good.states.shape == (3, 5, 64)
    assert len(cache.rejected) == 1 and "shape" in cache.rejected[0]
    assert (cache.hits, cache.misses) == (0, 1)


def test_read_only_cache_with_a_corrupt_entry_does_not_crash(tiny_clip, tmp_path, monkeypatch):
    cache = Cache(tmp_path / "cache")
    requests = word_requests(tiny_clip, THREE_WORDS, "bare")
    key = cache_key(tiny_clip, requests, "w")
    path = cache.path(key)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PK\x03\x04 truncated")
    real_unlink = Path.unlink

    def read_only_unlink(self, missing_ok=False):
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_unlink(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", read_only_unlink)
    with pytest.warns(UserWarning, match="could not be removed"):
        assert cache.load(key) is None
    assert len(cache.rejected) == 1 and "could not be removed" in cache.rejected[0]
    assert path.exists()  # nothing the folder refuses is forced


def test_full_cache_fails_before_computing(tiny_clip, tmp_path, monkeypatch):
    cache = Cache(_unwritable(tmp_path))
    computed = []
    with pytest.raises(CacheError, match="cannot be written"):
        cache.get_or_compute("ab" * 32, lambda: computed.append(1) or Extracted(None, None))
    assert computed == []


def test_orphan_temp_files_are_cleaned(tmp_path):
    cache = Cache(tmp_path / "cache")
    shard = cache.root / "ab"
    shard.mkdir(parents=True)
    dead = shard / f"{TEMP_PREFIX}ab12.999999999.tmp"  # a pid that cannot exist
    dead.write_bytes(b"half")
    alive = shard / f"{TEMP_PREFIX}ab34.{os.getpid()}.tmp"  # a run in progress: keep
    alive.write_bytes(b"half")
    old = shard / f"{TEMP_PREFIX}ab56.{os.getpid()}.tmp"  # an hour old: an orphan
    old.write_bytes(b"old")
    os.utime(old, (1, 1))
    # not the package's: never touched (test_cache_deletes_only_its_own_temporaries_...)
    users = shard / "ab78.tmp"
    users.write_bytes(b"mine")
    os.utime(users, (1, 1))
    cache.ensure_writable()
    assert not dead.exists() and not old.exists()
    assert alive.exists() and users.exists()


def test_run_report_counts_reused_computed_rejected(tiny_clip, tmp_path):
    cache = Cache(tmp_path / "cache")
    requests = word_requests(tiny_clip, THREE_WORDS, "bare")
    cached_extract(tiny_clip, requests, label="w", cache=cache)
    cached_extract(tiny_clip, requests, label="w", cache=cache)
    cache.path(cache_key(tiny_clip, requests, "w")).write_bytes(b"junk")
    with pytest.warns(UserWarning):
        cached_extract(tiny_clip, requests, label="w", cache=cache)
    assert cache.report().startswith("extractions 1 reused, 2 computed; 1 rejected")


def test_tables_round_trip_through_the_cache(tmp_path):
    cache = Cache(tmp_path / "cache")
    frame = pd.DataFrame(
        {
            "model": ["a", "b", "c"],
            "layer": [0, 1, 2],
            "value": [0.1 + 0.2, np.nan, 1 / 3],
            "flag": [True, False, True],
        }
    )
    calls = []
    first = cache.get_or_compute_frame("cd" * 32, lambda: calls.append(1) or frame)
    again = cache.get_or_compute_frame("cd" * 32, lambda: calls.append(1) or frame)
    assert calls == [1]
    pd.testing.assert_frame_equal(again, frame)
    assert again["value"].iloc[0] == 0.1 + 0.2  # bit-exact floats
    pd.testing.assert_frame_equal(first, frame)
