"""Tests for layerwise.rehearsal: a local HF cache of random-weight paper-architecture models,
loaded by the real hub loading code offline and marked as rehearsal everywhere.

The fast tests build small configurations through the same code path as the paper's
(``build(..., configs=...)``); the full-size build (275M random parameters, ~30 s) is
marked ``slow``.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import huggingface_hub.constants
import numpy as np
import pytest
from safetensors.numpy import load_file
from transformers import CLIPConfig, CLIPTextModel, GPT2Config

import layerwise.site.display as site_display
from layerwise.errors import InputError
from layerwise.extract.batched import extract
from layerwise.extract.requests import sentence_requests
from layerwise.models.loading import load_model
from layerwise.models.weights import CLIP_NON_TEXT_KEYS, _skipping_keys
from layerwise.platform import rehearsal

GPT2, CLIP = "gpt2", "openai/clip-vit-base-patch32"
SENTENCES = ["A man plays a guitar.", "Two dogs run across a wide green field in the sun.", "Hi"]


def small_configs() -> dict[str, object]:
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2}
    return {
        GPT2: GPT2Config(n_embd=48, n_layer=3, n_head=3),
        CLIP: CLIPConfig(
            text_config={**tower, "num_attention_heads": 2},
            vision_config={**tower, "num_attention_heads": 2},
            projection_dim=16,
        ),
    }


@pytest.fixture(scope="module")
def small_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    home = tmp_path_factory.mktemp("rehearsal-hf")
    return home, rehearsal.build(home, seed=3, configs=small_configs())


@pytest.fixture
def offline_cache(monkeypatch: pytest.MonkeyPatch, small_home):
    """Point huggingface_hub (read at call time by transformers) at the rehearsal cache."""
    home, snapshots = small_home
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(home / "hub"))
    return snapshots


@pytest.fixture
def transformers_log():
    """Messages transformers logs (its library logger does not propagate to pytest's)."""
    records: list[str] = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = lambda record: records.append(record.getMessage())
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_hub_cache_layout_and_marker(small_home):
    home, snapshots = small_home
    for repo_id, snapshot in snapshots.items():
        repo = home / "hub" / ("models--" + repo_id.replace("/", "--"))
        commit = (repo / "refs" / "main").read_text()
        assert re.fullmatch(r"[0-9a-f]{40}", commit)
        assert snapshot == repo / "snapshots" / commit
        assert (snapshot / "model.safetensors").is_file()
        assert (snapshot / "tokenizer.json").is_file()
        marker = json.loads((snapshot / rehearsal.MARKER).read_text())
        assert marker["rehearsal"] is True and marker["seed"] == 3
        assert (
            marker["note"] == "random weights, the paper's architectures; the numbers mean nothing"
        )
        assert rehearsal.is_rehearsal(snapshot)
        found = huggingface_hub.try_to_load_from_cache(
            repo_id, "config.json", cache_dir=home / "hub"
        )
        assert found == str(snapshot / "config.json")
    arch = {
        r: json.loads((s / "config.json").read_text())["architectures"]
        for r, s in snapshots.items()
    }
    assert arch == {GPT2: ["GPT2LMHeadModel"], CLIP: ["CLIPModel"]}


def test_commit_id_is_deterministic_and_follows_seed_and_config():
    configs = small_configs()
    a = rehearsal.commit_id(GPT2, configs[GPT2], 0)
    assert a == rehearsal.commit_id(GPT2, small_configs()[GPT2], 0)
    assert a != rehearsal.commit_id(GPT2, configs[GPT2], 1)
    assert a != rehearsal.commit_id(GPT2, GPT2Config(n_embd=48, n_layer=4, n_head=3), 0)


def test_build_is_idempotent_and_rebuilds_for_another_seed(small_home):
    home, snapshots = small_home
    weights = snapshots[GPT2] / "model.safetensors"
    before = weights.stat().st_mtime_ns
    again = rehearsal.build(home, seed=3, configs=small_configs())
    assert again == snapshots
    assert weights.stat().st_mtime_ns == before
    other = rehearsal.build(home, seed=4, configs={GPT2: small_configs()[GPT2]})
    assert other[GPT2] != snapshots[GPT2]
    first = load_file(str(weights))["transformer.wte.weight"]
    second = load_file(str(other[GPT2] / "model.safetensors"))["transformer.wte.weight"]
    assert not np.array_equal(first, second)
    # refs/main now names the seed-4 snapshot; put it back for the other tests
    rehearsal.build(home, seed=3, configs=small_configs())
    assert (home / "hub" / "models--gpt2" / "refs" / "main").read_text() == snapshots[GPT2].name


def test_unknown_repo_is_refused(tmp_path):
    with pytest.raises(InputError, match="no rehearsal for 'bert-base-uncased'"):
        rehearsal.build(tmp_path, configs={"bert-base-uncased": GPT2Config()})


def test_paper_loading_path_on_rehearsal_weights(offline_cache, transformers_log):
    gpt2 = load_model(GPT2, device="cpu")
    clip = load_model(CLIP, device="cpu")
    assert not any("LOAD REPORT" in m or "UNEXPECTED" in m for m in transformers_log)
    g, c = gpt2.spec, clip.spec
    assert (g.n_layers, g.hidden_size, g.max_length, g.top_state) == (3, 48, 1024, "post_norm")
    assert (c.n_layers, c.hidden_size, c.max_length, c.top_state) == (2, 32, 77, "pre_norm")
    assert g.extra == {"rehearsal": True} and c.extra == {"rehearsal": True}
    # the revision is the snapshot's commit, so extraction cache keys differ from real weights'
    assert (g.revision, c.revision) == (offline_cache[GPT2].name, offline_cache[CLIP].name)
    # GPT-2 has no padding token: batches are padded with <|endoftext|>, its close token
    assert gpt2.tokenizer.pad_token is None
    assert g.pad_id == g.close_id == g.open_id == 50256 and not g.native_wrap
    assert (c.open_id, c.close_id, c.native_wrap) == (49406, 49407, True)
    assert clip.tokenizer.model_max_length == 77
    # counting past the window (the window filter does) raises no tokenizer warning
    assert len(clip.tokens("a cat " * 60)) + 2 == 122  # 120 tokens and the wrap
    assert not any("longer than the specified maximum" in m for m in transformers_log)


def test_clip_text_weights_come_from_the_full_checkpoint(offline_cache):
    clip = load_model(CLIP, device="cpu")
    saved = load_file(str(offline_cache[CLIP] / "model.safetensors"))
    loaded = clip.model.state_dict()
    # the text encoder's own keys are the checkpoint's ``text_model.`` keys, prefix removed
    text = {
        k.removeprefix("text_model."): v for k, v in saved.items() if k.startswith("text_model.")
    }
    assert len(text) > 20 and set(text) <= set(loaded)
    for key, value in text.items():
        np.testing.assert_array_equal(loaded[key].numpy(), value)


def test_batched_extraction_pads_gpt2_with_endoftext(offline_cache):
    gpt2 = load_model(GPT2, device="cpu")
    requests = sentence_requests(gpt2, SENTENCES, "mean")
    batched = extract(gpt2, requests, batch_size=3, progress=False)
    single = [extract(gpt2, [r], batch_size=1, progress=False).states[0] for r in requests]
    np.testing.assert_allclose(batched.states, np.stack(single), rtol=0, atol=1e-5)


def test_skipping_keys_restores_the_class():
    assert "_keys_to_ignore_on_load_unexpected" not in CLIPTextModel.__dict__
    with _skipping_keys(CLIPTextModel, CLIP_NON_TEXT_KEYS):
        assert CLIPTextModel._keys_to_ignore_on_load_unexpected == list(CLIP_NON_TEXT_KEYS)
    assert "_keys_to_ignore_on_load_unexpected" not in CLIPTextModel.__dict__


def test_not_rehearsal_elsewhere(tiny_gpt2, tmp_path):
    assert tiny_gpt2.spec.extra == {}
    assert rehearsal.marker_for("tiny:gpt2") == {}
    assert rehearsal.marker_for(str(tmp_path)) == {}
    assert not rehearsal.is_rehearsal(tmp_path)


def test_banner_and_notes_say_rehearsal(offline_cache, tiny_gpt2, tiny_clip):
    models = {
        "contrastive": load_model(CLIP, device="cpu"),
        "causal": load_model(GPT2, device="cpu"),
    }
    text = site_display.banner_text("paper", models)
    assert text.startswith("**Rehearsal: random weights, the paper's architectures; the numbers")
    assert "comparable with the paper's" not in text
    assert site_display.banner("paper", models).data.startswith(":::{warning}")
    # chapter 1 shows the banner before any model is loaded: found from the cache
    assert site_display.is_rehearsal("paper") and "Rehearsal" in site_display.banner_text("paper")
    assert "random weights" in site_display.compare_note("paper", models)
    assert "values themselves are compared" not in site_display.compare_note("paper", models)
    tiny = {"contrastive": tiny_clip, "causal": tiny_gpt2}
    assert not site_display.is_rehearsal("tiny", tiny)
    assert site_display.banner("tiny", tiny).data.startswith(":::{important}")


def test_paper_profile_is_not_rehearsal_without_the_marker(monkeypatch, tmp_path):
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert not site_display.is_rehearsal("paper")
    assert site_display.compare_note("paper") == (
        "These are the paper's models, so the values themselves are compared."
    )


def test_full_size_rehearsal(tmp_path, monkeypatch, transformers_log):
    """The paper's exact architectures: GPT-2 small and the full CLIP ViT-B/32 checkpoint."""
    snapshots = rehearsal.build(tmp_path)
    params = {
        r: json.loads((s / rehearsal.MARKER).read_text())["parameters"]
        for r, s in snapshots.items()
    }
    assert params == {GPT2: 124_439_808, CLIP: 151_277_313}
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    g = load_model(GPT2, device="cpu").spec
    c = load_model(CLIP, device="cpu").spec
    assert not any("LOAD REPORT" in m for m in transformers_log)
    assert (g.n_layers, g.hidden_size, g.max_length, g.top_state) == (12, 768, 1024, "post_norm")
    assert (c.n_layers, c.hidden_size, c.max_length, c.top_state) == (12, 512, 77, "pre_norm")
    assert g.extra["rehearsal"] and c.extra["rehearsal"]
