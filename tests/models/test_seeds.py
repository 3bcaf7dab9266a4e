"""Seeds by name (layerwise.measure.common.MeasureOptions.rng): a random step's generator
comes from the run's seed and the step's name, never its position in a list, so an
interval is the same whether its task or setting is asked alone or with all the others."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from layerwise.errors import InputError
from layerwise.extract.requests import SENTENCE_SETTINGS
from layerwise.measure.common import MeasureOptions
from layerwise.measure.multi_states import WORD_SETTING, sts_items
from layerwise.measure.multi_tables import task_scores
from layerwise.measure.sentences import sts_benchmark_scores
from layerwise.measure.words import WORD_TASKS, task_items, word_task_scores
from layerwise.store.cache import Cache

COLUMNS = ["setting", "task", "layer", "top", "value", "low", "high"]


def _rows(df: pd.DataFrame, **eq) -> pd.DataFrame:
    for col, v in eq.items():
        df = df[df[col] == v]
    cols = [c for c in COLUMNS if c in df.columns]
    return df[cols].sort_values(cols[:4]).reset_index(drop=True)


def test_the_cwe_sample_keeps_its_stream_and_other_names_differ():
    """The CWE sample's generator is the one it had before steps were named
    (``default_rng([seed, 1])``), so chapter 3's point estimates do not move; any other
    name gives another stream, and the same name the same one."""
    s = MeasureOptions(cache=None, seed=3)
    old = np.random.default_rng([3, 1]).integers(0, 2**31, 8)
    assert (s.rng("cwe sample").integers(0, 2**31, 8) == old).all()
    draws = {
        name: tuple(s.rng(*name).integers(0, 2**31, 4))
        for name in [
            ("word task", "ws353", "bare"),
            ("word task", "ws353", "eos"),
            ("sts-b", "eos"),
        ]
    }
    assert len(set(draws.values())) == 3
    again = tuple(s.rng("word task", "ws353", "bare").integers(0, 2**31, 4))
    assert again == draws[("word task", "ws353", "bare")]
    other_seed = MeasureOptions(cache=None, seed=4).rng("word task", "ws353", "bare")
    assert tuple(other_seed.integers(0, 2**31, 4)) != again
    with pytest.raises(InputError, match="non-empty strings"):
        s.rng("word task", 1)  # a position is not a name


def test_a_named_stream_is_the_same_in_every_process():
    """Names are hashed stably (not with ``hash()``, which Python salts per process)."""
    code = (
        "from layerwise.measure.common import MeasureOptions;"
        "print(MeasureOptions(cache=None).rng('word task', 'rg65', 'eos').integers(0, 2**62))"
    )
    here = MeasureOptions(cache=None).rng("word task", "rg65", "eos").integers(0, 2**62)
    there = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert int(there) == here


@pytest.mark.parametrize("task", ["ws353", "valnorm"])
def test_a_word_task_alone_gets_its_interval_of_the_full_run(tiny_gpt2, tmp_path, task):
    """WS353 (second in the list) and ValNorm (last) asked alone: the same rows, intervals
    included, as in the run of every task (old seeds: position 0 alone, 1 or 4 in full)."""
    assert task in WORD_TASKS and WORD_TASKS[0] != task
    s = MeasureOptions(cache=Cache(tmp_path / "c"), n_resamples=40, batch_size=256)
    full = word_task_scores(tiny_gpt2, settings=["eos"], s=s)
    alone = word_task_scores(tiny_gpt2, settings=["eos"], s=s, tasks=[task])
    expected = _rows(full, task=task)
    assert len(expected) and expected["low"].notna().any()
    pd.testing.assert_frame_equal(_rows(alone), expected)


def test_an_sts_setting_alone_gets_its_interval_of_the_full_run(tiny_gpt2):
    """The last STS-B setting asked alone equals its rows among every setting (old seeds:
    ``200 + k``, k its position)."""
    settings = ["eos", "last", "mean"]  # tiny:gpt2 has no native pooling
    last = settings[-1]
    pairs = _few_sts_pairs()
    s = MeasureOptions(cache=None, n_resamples=40)
    full = sts_benchmark_scores(tiny_gpt2, settings=settings, s=s, pairs=pairs)
    alone = sts_benchmark_scores(tiny_gpt2, settings=[last], s=s, pairs=pairs)
    expected = _rows(full, setting=last)
    assert len(expected) and expected["low"].notna().any()
    pd.testing.assert_frame_equal(_rows(alone), expected)


def _few_sts_pairs():
    from layerwise import data

    return data.load_sts_benchmark()[:30]


def test_chapter7_task_scores_do_not_depend_on_the_other_keys():
    """task_scores gives a (task, setting) the same interval alone as among all the word
    tasks and STS-B settings, and the same one chapter 4 uses for that task and setting."""
    gen = np.random.default_rng(7)
    values = {
        (task, WORD_SETTING): gen.normal(size=(len(task_items(task).target), 3))
        for task in WORD_TASKS
    }
    n_sts = len(sts_items().gold)
    for setting in SENTENCE_SETTINGS:
        values[("stsb", setting)] = gen.normal(size=(n_sts, 3))
    s = MeasureOptions(cache=None, n_resamples=30)
    full = {(t, st): scores for t, st, scores in task_scores(values, s)}
    for key in [("valnorm", WORD_SETTING), ("stsb", list(SENTENCE_SETTINGS)[-1])]:
        ((task, setting, alone),) = task_scores({key: values[key]}, s)
        assert (task, setting) == key
        assert [(x.low, x.high) for x in alone] == [(x.low, x.high) for x in full[key]]
    # chapter 4's generator for the same task and setting gives the same interval
    ws = ("ws353", WORD_SETTING)
    chapter4 = task_items("ws353").score_values(
        values[ws], rng=s.rng("word task", *ws), n_resamples=30
    )
    assert [(x.low, x.high) for x in chapter4] == [(x.low, x.high) for x in full[ws]]
