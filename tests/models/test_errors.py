"""layerwise.errors: every error the public API raises on bad input is a LayerwiseError.

A caller catches one class (``except LayerwiseError``) and gets one line naming what was
wrong. Each case below is a bad input to a public entry point, from the data loaders to the
run configuration; a library's own exception escaping (KeyError, FileNotFoundError,
safetensors' or huggingface_hub's errors, a plain ValueError) fails the case.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import layerwise as lw
from layerwise import data
from layerwise.errors import (
    CacheError,
    DataError,
    InputError,
    LayerwiseError,
    ModelLoadError,
    OutputError,
)
from layerwise.extract.batched import extract
from layerwise.extract.requests import sentence_requests, word_requests
from layerwise.models.loading import load_model
from layerwise.pipeline.config import RunConfig
from layerwise.pipeline.profiles import resolve_profile
from layerwise.report import provenance
from layerwise.stats import geometry
from layerwise.store.cache import Cache


def _under_a_file(tmp_path: Path) -> Path:
    """A folder path that cannot be created, even by root: its parent is a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return blocker / "inside"


def _not_a_model(tmp_path: Path) -> str:
    (tmp_path / "notes.txt").write_text("hello")
    return str(tmp_path)


def _broken_weights(tmp_path: Path, tiny_gpt2) -> str:
    folder = tmp_path / "model"
    tiny_gpt2.model.save_pretrained(folder)
    tiny_gpt2.tokenizer.save_pretrained(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # truncated: safetensors' own error
    return str(folder)


def _measure():
    return lw.MeasureOptions(cache=None, progress=False)


# (name, the call on bad input, the subclass it is documented to raise, words the message holds)
CASES = [
    ("unknown word task", lambda lm, p: data.load_word_pairs("men"), InputError, ["men"]),
    ("unknown STS year", lambda lm, p: data.load_sts_sentences(years=[1999]), InputError, ["1999"]),
    (
        "self-similarity of one vector",
        lambda lm, p: geometry.self_similarity(np.ones((1, 4))),
        InputError,
        [],
    ),
    ("unknown tiny model", lambda lm, p: load_model("tiny:nope", device="cpu"), InputError, []),
    (
        "unknown dtype",
        lambda lm, p: load_model("tiny:gpt2", device="cpu", dtype="float7"),
        InputError,
        ["float7"],
    ),
    (
        "folder without config.json",
        lambda lm, p: load_model(_not_a_model(p), device="cpu"),
        ModelLoadError,
        ["config.json"],
    ),
    (
        "truncated weights",
        lambda lm, p: load_model(_broken_weights(p, lm), device="cpu"),
        ModelLoadError,
        ["model"],
    ),
    (
        "neither a folder nor a hub id",
        lambda lm, p: load_model("./no-such-folder", device="cpu"),
        ModelLoadError,
        ["no-such-folder"],
    ),
    (
        "empty word",
        lambda lm, p: word_requests(lm, ["cat", " "], "bare"),
        InputError,
        ["word 1"],
    ),
    (
        "a bare string for a list of sentences",
        lambda lm, p: sentence_requests(lm, "A dog runs.", "eos"),
        InputError,
        ["single string"],
    ),
    (
        "batch size 0",
        lambda lm, p: extract(lm, word_requests(lm, ["cat"], "bare"), batch_size=0),
        InputError,
        ["positive"],
    ),
    (
        "unknown word setting",
        lambda lm, p: lw.word_states(lm, ["dog"], ["bogus"], _measure()),
        InputError,
        ["bogus"],
    ),
    (
        "unknown profile",
        lambda lm, p: resolve_profile("nope"),
        InputError,
        ["nope"],
    ),
    (
        "zero resamples",
        lambda lm, p: RunConfig(profile="tiny", n_resamples=0).validate(outputs=False),
        InputError,
        ["n_resamples"],
    ),
    (
        "cache folder under a file",
        lambda lm, p: Cache(_under_a_file(p)).get_or_compute_json("ab" * 32, lambda: {}),
        CacheError,
        ["cannot be written"],
    ),
    (
        "results folder under a file",
        lambda lm, p: provenance.write_table(pd.DataFrame({"a": [1]}), _under_a_file(p), "t", {}),
        OutputError,
        ["inside"],
    ),
]


@pytest.mark.parametrize(("what", "call", "kind", "words"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_to_the_public_api_is_one_layerwise_error(
    what, call, kind, words, tiny_gpt2, tmp_path
):
    with pytest.raises(LayerwiseError) as info:
        call(tiny_gpt2, tmp_path)
    assert isinstance(info.value, kind), f"{what}: {type(info.value).__name__}: {info.value}"
    message = str(info.value)
    assert message.strip() and "\n" not in message.strip(), f"{what}: not one line: {message!r}"
    for word in words:
        assert word in message, f"{what}: {word!r} not in {message!r}"


def test_a_corrupt_data_file_is_a_data_error_a_caller_catches_as_layerwise_error(data_copy):
    path = data_copy / "word-similarity" / "rg65.csv"
    path.write_bytes(path.read_bytes().replace(b"cord", b"c0rd", 1))
    try:
        data.load_word_pairs("rg65")
    except LayerwiseError as err:  # the one class a caller needs
        assert isinstance(err, DataError) and "rg65.csv" in str(err)
    else:
        pytest.fail("a corrupt data file was read")
