"""A dataset of one's own through the public door (src/layerwise/data/register.py): the
whole round trip with ``lw`` names only, and the remedies its errors name."""

from __future__ import annotations

import hashlib

import pytest

import layerwise as lw
from layerwise.data.registry import of_kind

PAIRS = "cat dog 7.5\ncar truck 6.8\nking queen 8.1\nsun moon 5.2\n"


def _entry(path, **changes):
    fields = dict(
        key="mine", label="MINE", title="MINE", kind="word_similarity", metric="spearman",
        path=str(path), count=4, source="hand-made", citation="", licence="CC0",
        format=lw.PairFormat(" ", 3, 2, "'w1 w2 score'"),
        sha256=hashlib.sha256(PAIRS.encode()).hexdigest(),
    )  # fmt: skip
    fields.update(changes)
    return lw.Dataset(**fields)


def test_a_registered_set_is_removed_through_the_public_name(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text(PAIRS)
    before = of_kind("word_similarity")
    assert "unregister_dataset" in lw.__all__
    lw.register_dataset(_entry(path))
    try:
        assert of_kind("word_similarity") == (*before, "mine")
    finally:
        lw.unregister_dataset("mine")
    assert of_kind("word_similarity") == before
    with pytest.raises(lw.InputError, match="no dataset 'mine' is registered"):
        lw.unregister_dataset("mine")


def test_a_line_the_format_cannot_read_names_the_pair_format_as_the_remedy(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text(PAIRS)  # intact file, wrong separator in the entry
    wrong = lw.PairFormat(";", 3, 2, "'w1;w2;score'")
    with pytest.raises(lw.DataError) as err:
        lw.register_dataset(_entry(path, format=wrong))
    message = str(err.value)
    assert str(path) in message and "line 1" in message and "'cat dog 7.5'" in message
    assert "PairFormat that matches the file" in message
    assert "restore the file" not in message
    assert "mine" not in of_kind("word_similarity")


def test_a_relative_path_that_is_not_there_names_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(lw.DataError) as err:
        lw.register_dataset(_entry("MEN_dataset"))
    message = str(err.value)
    assert str(tmp_path / "MEN_dataset") in message
    assert f"read from the working directory, {tmp_path}" in message
    assert "mine" not in of_kind("word_similarity")
