"""Reliability, round two (issue 14): nothing lost, nothing silently wrong, every misstep one
clear line.

One test per trial that misbehaved on the main before the layered refactor (the flat
``layerwise.cache``, ``layerwise.models``, ``layerwise.book`` ... modules); each docstring says
what used to happen. Runs as root in CI, so read-only folders are simulated (a refused
``ensure_writable``, a path under a regular file), never made with chmod. The model folders
are tiny GPT-2s (2 layers of 32) with a ten-word tokenizer built with ``tokenizers``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import stat
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import layerwise.data.integrity as data_integrity
import layerwise.models.hub as models_hub
import layerwise.pipeline.compare as pipeline_compare
from layerwise import cli, data, files
from layerwise.errors import (
    CacheError,
    DataError,
    InputError,
    LayerwiseError,
    ModelLoadError,
    OutputError,
)
from layerwise.extract.requests import word_requests
from layerwise.extract.states import Extracted
from layerwise.models.loading import load_model
from layerwise.pipeline.config import RunConfig
from layerwise.store.cache import Cache
from layerwise.store.cached import cached_extract

VOCAB = ["[UNK]", "<|endoftext|>", "word", "the", "cat", "sat", "on", "mat", "dog", "house"]
DEAD_PID = 999_999_999  # above any pid Linux hands out
OLD = 1.0  # a modification time in 1970: older than any age limit


def tiny_folder(folder: Path, seed: int = 0) -> Path:
    """A loadable GPT-2 model folder: safetensors weights, config, a fast tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
    )
    config = GPT2Config(
        vocab_size=len(VOCAB),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=1,
        eos_token_id=1,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = GPT2Model(config)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _load(source: str | Path, **kwargs):
    return load_model(str(source), device="cpu", **kwargs)


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text.strip(), f"not one line: {text!r}"
    return text


# ---------------------------------------------------------------- 1. only what it created
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


# ---------------------------------------------------------------- 2. temporaries, umask
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


# ---------------------------------------------------------------- 3. read-only warm cache
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


# ---------------------------------------------------------------- 4. identity where it is used
def test_weights_replaced_after_a_lazy_load_are_refused(tmp_path):
    """Used to: weights replaced between a lazy load and the first extraction were read and
    their states cached under the old weights' fingerprint (later served as the old
    weights' states)."""
    folder = tiny_folder(tmp_path / "model", seed=0)
    root = tmp_path / "cache"
    _load(folder, cache_dir=root)  # keeps the spec
    lm = _load(folder, cache_dir=root, lazy=True)
    assert not lm.weights_loaded
    tiny_folder(folder, seed=1)  # other weights, same file names
    cache = Cache(root)
    requests = word_requests(lm, ["cat", "dog"], "bare")
    with pytest.raises(ModelLoadError) as err:
        cached_extract(lm, requests, label="w", cache=cache)
    message = _one_line(err.value)
    assert str(folder) in message and "changed since it was loaded" in message
    assert "Remedy: load it again" in message
    assert not list(root.rglob("*.safetensors"))  # nothing cached under the old fingerprint


def test_a_spec_cache_hit_keeps_the_models_own_source(tmp_path):
    """Used to: a copy of a model folder loaded lazily with a warm spec cache reported the
    original folder as its source (and name), in logs, tables and provenance."""
    original = tiny_folder(tmp_path / "original")
    root = tmp_path / "cache"
    _load(original, cache_dir=root)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    lm = _load(copy, cache_dir=root, lazy=True)
    assert not lm.weights_loaded  # the spec came from the cache
    assert lm.spec.source == str(copy)
    assert lm.spec.name == "copy"


def test_compare_refuses_two_sources_of_the_same_weights(tmp_path, monkeypatch):
    """Used to: ``compare`` accepted a folder and a symlink to it as two models, compared
    the model with itself and recorded one model in provenance."""
    folder = tiny_folder(tmp_path / "model")
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)

    def extracting(*args, **kwargs):
        pytest.fail("compare extracted the same weights twice")

    monkeypatch.setattr(pipeline_compare, "compare_tables", extracting)
    cfg = RunConfig(profile="tiny", scale="reduced", device="cpu", cache_dir=str(tmp_path / "c"))
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        pipeline_compare.run_compare([str(folder), str(link)], cfg, out, log=lambda m: None)
    message = _one_line(err.value)
    assert repr(str(folder)) in message and repr(str(link)) in message
    assert "same weights" in message and "Remedy" in message
    assert not list(out.glob("*.csv"))


def test_non_finite_states_stop_extraction_and_cache_nothing(tmp_path):
    """Used to: weights giving NaN were extracted to the end, the NaN states cached, and the
    run failed later in a statistic with a message naming no model."""
    lm = _load(tiny_folder(tmp_path / "model"))
    with torch.no_grad():
        lm.model.h[1].mlp.c_proj.weight.fill_(float("nan"))  # block 1 -> hidden state 2
    cache = Cache(tmp_path / "cache")
    requests = word_requests(lm, ["cat", "dog"], "bare")
    with pytest.raises(ModelLoadError) as err:
        cached_extract(lm, requests, label="w", cache=cache)
    message = _one_line(err.value)
    assert "model" in message and str(tmp_path / "model") in message
    assert "non-finite" in message and "layer 2 of 2" in message
    assert "'cat'" in message or "'dog'" in message
    assert "nothing was cached" in message and "Remedy" in message
    assert not list(cache.root.rglob("*.safetensors"))


# ---------------------------------------------------------------- 5. every load failure
def _no_weights(folder: Path) -> str:
    (folder / "model.safetensors").unlink()
    return "model.safetensors"


def _truncated(folder: Path) -> str:
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return str(path)


def _corrupt(folder: Path) -> str:
    path = folder / "model.safetensors"
    raw = path.read_bytes()
    path.write_bytes(raw[:8] + b"{garbage" + raw[16:])
    return str(path)


class _Marker:
    """A pickle that would create a folder if it were ever unpickled unsafely."""

    def __init__(self, where: Path) -> None:
        self.where = where

    def __reduce__(self):
        return (os.mkdir, (str(self.where),))


def _pickled(folder: Path) -> str:
    (folder / "model.safetensors").unlink()
    path = folder / "pytorch_model.bin"
    marker = {"h.0.attn.c_attn.weight": _Marker(folder / "EXECUTED")}
    path.write_bytes(pickle.dumps(marker, protocol=2))  # torch.save's protocol
    return str(path)


def _no_tokenizer(folder: Path) -> str:
    for path in folder.iterdir():
        if path.name.startswith(("tokenizer", "special_tokens")):
            path.unlink()
    return "tokenizer"


def _bad_config(folder: Path) -> str:
    (folder / "config.json").write_text("{not json")
    return str(folder / "config.json")


@pytest.mark.parametrize(
    "break_it", [_no_weights, _truncated, _corrupt, _pickled, _no_tokenizer, _bad_config]
)
def test_every_broken_model_folder_is_one_model_load_error(tmp_path, break_it):
    """Used to: a truncated or corrupt model.safetensors raised safetensors' SafetensorError,
    a pickled pytorch_model.bin pickle.UnpicklingError and a folder without tokenizer files an
    IndexError in the spec probe, each a raw traceback; a missing weight file or an unreadable
    config named no remedy."""
    folder = tiny_folder(tmp_path / "model")
    named = break_it(folder)
    with pytest.raises(ModelLoadError) as err:
        assert _load(folder).model is None  # never reached: loading raises
    message = _one_line(err.value)
    assert str(folder) in message and named in message
    assert "Remedy" in message
    assert not (folder / "EXECUTED").exists()  # no pickle was ever run


@pytest.mark.parametrize("source", ["./no-such-folder", "no/such/hub/id", "a--b"])
def test_a_source_that_is_neither_a_folder_nor_a_hub_id_is_one_error(source):
    """Used to: huggingface_hub's HFValidationError, raw, from the cache lookup."""
    with pytest.raises(ModelLoadError) as err:
        _load(source)
    message = _one_line(err.value)
    assert repr(source) in message and "neither a model folder" in message
    assert "Remedy" in message


def test_the_command_line_prints_one_line_and_exits_2(tmp_path, capsys):
    """Used to: ``python -m layerwise compare`` on a folder with a pickled
    pytorch_model.bin ended in an UnpicklingError traceback."""
    folder = tiny_folder(tmp_path / "model")
    _pickled(folder)
    argv = ["compare", str(folder), "--out", str(tmp_path / "out"), "--scale", "reduced"]
    argv += ["--device", "cpu", "--cache-dir", str(tmp_path / "cache")]
    capsys.readouterr()  # what saving the folder printed
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: model ")
    assert "pytorch_model.bin" in err and "Remedy" in err


# ---------------------------------------------------------------- 6. the book
def test_a_chapter_that_raises_is_one_line_with_its_traceback_in_a_log(tmp_path, monkeypatch):
    """Used to: papermill's PapermillExecutionError, a screenful of traceback with the
    chapter named only by the "executing ..." line printed before it."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from layerwise.site import book

    root = tmp_path / "repo"
    (root / "notebooks").mkdir(parents=True)
    (root / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n- file: notebooks/03_x\n"
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")])
    nbformat.write(notebook, root / "notebooks" / "03_x.ipynb")

    def raising(*args, **kwargs):
        raise PapermillExecutionError(
            cell_index=2,
            exec_count=4,
            source="scores = compute()\n1 / 0",
            ename="ZeroDivisionError",
            evalue="division by zero",
            traceback=["\x1b[0;31mZeroDivisionError\x1b[0m", "Traceback: line 2 in <cell>"],
        )

    monkeypatch.setattr(papermill, "execute_notebook", raising)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    cfg = RunConfig(profile="tiny", scale="reduced", device="cpu")
    with pytest.raises(LayerwiseError) as err:
        book.execute_notebooks(cfg, root, root / "_build" / "src")
    assert isinstance(err.value, book.ChapterError)
    message = _one_line(err.value)
    log = root / "_build" / "logs" / "03_x.log"
    assert "chapter notebooks/03_x.ipynb" in message and "cell [4]" in message
    assert "'scores = compute()'" in message
    assert "ZeroDivisionError: division by zero" in message and str(log) in message
    kept = log.read_text()
    assert "Traceback: line 2 in <cell>" in kept and "\x1b[" not in kept


def test_an_unwritable_build_folder_is_one_line(tmp_path, monkeypatch):
    """Used to: an OSError traceback from ``mkdir`` of ``_build/src``."""
    from layerwise.site import book

    root = tmp_path / "repo"
    root.mkdir()
    (root / "_toc.yml").write_text("root: intro\n")
    (root / "_build").write_text("a file where the build folder goes")
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # build_book prepends to it
    cfg = RunConfig(
        profile="tiny",
        scale="reduced",
        device="cpu",
        results_dir=str(tmp_path / "results"),
        cache_dir=str(tmp_path / "cache"),
    )
    with pytest.raises(OutputError) as err:
        book.build_book(cfg, root)
    message = _one_line(err.value)
    assert "build folder" in message and str(root / "_build") in message
    assert "Remedy" in message


# ---------------------------------------------------------------- 7. line endings, BOM
@pytest.fixture
def data_copy(tmp_path, monkeypatch) -> Path:
    """A writable copy of the vendored datasets; every loader is pointed at it."""
    target = tmp_path / "datasets"
    shutil.copytree(data.dataset_dir(), target, copy_function=shutil.copyfile)
    for folder, _dirs, names in os.walk(target):
        os.chmod(folder, 0o755)
        for name in names:
            os.chmod(os.path.join(folder, name), 0o644)
    monkeypatch.setattr(data_integrity, "DATA_DIR", target)
    return target


def _resum(root: Path, rel: str) -> None:
    digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    sums = root / "SHA256SUMS"
    lines = [ln for ln in sums.read_text().splitlines() if not ln.endswith(f"  ./{rel}")]
    sums.write_text("\n".join([*lines, f"{digest}  ./{rel}"]) + "\n")


@pytest.mark.parametrize(
    ("rel", "load"),
    [
        ("word-similarity/rg65.csv", lambda: data.load_word_pairs("rg65")),
        ("sts-benchmark/sts-test.csv", data.load_sts_benchmark_quoted),
    ],
)
def test_a_data_file_with_a_bom_is_refused_naming_it(data_copy, rel, load):
    """Used to: a UTF-8 BOM at the start of a data file (an editor's) became part of the
    first record's first word, silently, once the checksum list was updated too."""
    path = data_copy / rel
    assert path.is_file(), rel
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    _resum(data_copy, rel)
    with pytest.raises(DataError) as err:
        load()
    message = _one_line(err.value)
    assert rel in message and "BOM" in message and "git checkout" in message


def test_the_vendored_data_is_binary_to_git_and_crlf_is_named(data_copy):
    """Used to: no .gitattributes, so with core.autocrlf=true every data file was checked out
    with CRLF line endings, every checksum failed, and the printed fix (``git checkout``)
    wrote the converted file back; the message did not say line endings were the cause."""
    repo = Path(__file__).resolve().parent.parent
    rules = (repo / ".gitattributes").read_text().splitlines()
    assert "src/layerwise/datasets/** binary" in rules
    rel = "word-similarity/rg65.csv"
    path = data_copy / rel
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(DataError) as err:
        data.load_word_pairs("rg65")
    message = _one_line(err.value)
    assert rel in message and "line endings" in message and "CRLF" in message


# ---------------------------------------------------------------- 8. hub downloads
@pytest.mark.parametrize(
    ("repo_files", "expected"),
    [
        (
            [".gitattributes", "README.md", "config.json", "model.safetensors",
             "pytorch_model.bin", "tf_model.h5", "flax_model.msgpack", "onnx/model.onnx",
             "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"],
            {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
             "vocab.json", "merges.txt"},
        ),
        (
            ["config.json", "pytorch_model.bin", "tf_model.h5", "rust_model.ot", "vocab.txt",
             "special_tokens_map.json"],
            {"config.json", "pytorch_model.bin", "vocab.txt", "special_tokens_map.json"},
        ),
    ],
)  # fmt: skip
def test_a_hub_download_fetches_only_what_the_loader_reads(
    tmp_path, monkeypatch, repo_files, expected
):
    """Used to: ``snapshot_download`` had no ``allow_patterns``: the paper profile downloaded
    every framework's weights of a repository (TF, Flax, PyTorch), not just the ones read."""
    import huggingface_hub
    from huggingface_hub.utils import filter_repo_objects

    snap = tmp_path / "snapshots" / "0123abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (snap / "model.safetensors").write_bytes(b"weights")
    passed: dict = {}

    class FakeApi:
        def list_repo_files(self, repo_id, revision=None, **kwargs):
            return list(repo_files)

    def fake_download(repo_id, **kwargs):
        passed.update(kwargs)
        return str(snap)

    monkeypatch.setattr(models_hub, "hub_snapshot", lambda repo, rev=None: snap if passed else None)
    monkeypatch.setattr(models_hub, "hub_reachable", lambda *args, **kwargs: True)
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeApi)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_download)
    assert models_hub.resolve_hub("org/model", None) == snap
    patterns = passed.get("allow_patterns")
    assert patterns, "snapshot_download was called without allow_patterns"
    assert set(filter_repo_objects(repo_files, allow_patterns=patterns)) == expected


def test_pids_in_temp_names_are_read_from_the_end():
    """The pid of ``.layerwise-<tag><random>.<pid>.tmp`` is the last dotted part, even when
    the tag holds dots (a result file's name)."""
    now = time.time()
    assert files.is_orphan(Path(f".layerwise-table.csv-ab.{DEAD_PID}.tmp"), now)
    assert not files.is_orphan(Path(f"table.csv.{DEAD_PID}.tmp"), now)


@pytest.mark.parametrize("field", ["n_cwe", "n_resamples", "batch_size"])
def test_a_zero_size_is_refused_never_replaced_by_the_scales_default(field, tmp_path):
    """``RunConfig(n_cwe=0)`` used to become the scale's 10,000 silently (``0 or default``);
    a size that could mean "nothing" is an InputError naming the field."""
    from layerwise.pipeline.config import RunConfig

    cfg = RunConfig(profile="tiny", cache_dir=str(tmp_path), **{field: 0})
    assert getattr(cfg, field) == 0
    with pytest.raises(InputError, match=f"{field} must be a positive integer, got 0"):
        cfg.validate(outputs=False)
