"""The extraction plan (layerwise.store.plan): identical inputs run once, a causal model's
prefixes read from the longer input, each job's entry what its own extraction gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from layerwise.extract import batched
from layerwise.extract.batched import batch_widths, extract, extract_at_widths
from layerwise.extract.requests import Request, sentence_requests, word_requests
from layerwise.measure.common import MeasureOptions, planning
from layerwise.measure.words import word_states
from layerwise.models.spec import LoadedModel
from layerwise.store.cache import Cache
from layerwise.store.cached import cached_extract
from layerwise.store.keys import cache_key
from layerwise.store.plan import Job, make_plan, run_plan

SENTENCES = [
    "A man is playing a guitar.",
    "The cat sat on the mat while the dog slept.",
    "Two women are walking along a sunny beach near the sea.",
    "Rain.",
]
WORDS = ["cat", "dog", "guitar", "beach"]


def _calls(monkeypatch) -> list[tuple[int, int]]:
    """Log the (rows, width) of every batch the extraction pads."""
    log: list[tuple[int, int]] = []
    real = batched._pad

    def pad(requests, batch, width, pad_id, device):
        log.append((len(batch), int(width)))
        return real(requests, batch, width, pad_id, device)

    monkeypatch.setattr(batched, "_pad", pad)
    return log


def _assert_entry(cache, lm, job):
    """The job's cache entry holds what its own extraction gives, bit for bit."""
    entry = cache.load(cache_key(lm, job.requests, job.label))
    assert entry is not None, job.label
    direct = extract(lm, job.requests, progress=False)
    np.testing.assert_array_equal(entry.states, direct.states)
    if direct.top_alt is not None:
        np.testing.assert_array_equal(entry.top_alt, direct.top_alt)


def test_identical_inputs_run_once_and_each_entry_is_its_own_extraction(
    tiny_bert, tmp_path, monkeypatch
):
    mean = sentence_requests(tiny_bert, SENTENCES, "mean")
    # the same ids for BERT; with the longest sentence, so batched at the same width
    native = sentence_requests(tiny_bert, SENTENCES[1:3], "eos")
    jobs = [Job("mean", tuple(mean)), Job("eos", tuple(native))]
    assert [r.ids for r in native] == [r.ids for r in mean[1:3]]
    plan = make_plan(tiny_bert, jobs)
    assert len(plan.requests) == len(SENTENCES)  # the two shared inputs once
    cache = Cache(tmp_path)
    calls = _calls(monkeypatch)
    assert run_plan(tiny_bert, jobs, cache) == 2
    assert sum(rows for rows, _ in calls) == len(SENTENCES)
    for job in jobs:
        _assert_entry(cache, tiny_bert, job)
    # planned entries are found: a second plan runs nothing
    calls.clear()
    assert run_plan(tiny_bert, jobs, cache) == 0
    assert calls == []


def test_causal_prefix_is_read_from_the_longer_input(tiny_gpt2, tmp_path, monkeypatch):
    (full,) = sentence_requests(tiny_gpt2, SENTENCES[1:2], "last")
    n = len(full.ids)
    assert n > 4
    longer = Job("whole", (full,))
    # batched with the whole input, the 3-token prefix has the whole one's width
    prefix = Job(
        "prefix", (Request(full.ids[:3], ((2, 3),)), Request(full.ids, ((1, 2), (n - 1, n))))
    )
    assert batch_widths(tiny_gpt2, prefix.requests).tolist() == [n, n]
    plan = make_plan(tiny_gpt2, [longer, prefix])
    assert len(plan.requests) == 1 and plan.requests[0].ids == full.ids
    assert plan.tokens == n
    cache = Cache(tmp_path)
    calls = _calls(monkeypatch)
    run_plan(tiny_gpt2, [longer, prefix], cache)
    assert calls == [(1, n)]
    _assert_entry(cache, tiny_gpt2, longer)
    _assert_entry(cache, tiny_gpt2, prefix)


def test_a_prefix_of_another_width_is_run_at_its_own(tiny_gpt2):
    """Inputs are merged only at the width their own extraction gives them: a short input
    batched alone keeps its own pass rather than reading a longer one's."""
    (full,) = sentence_requests(tiny_gpt2, SENTENCES[2:3], "last")
    short = Job("short", (Request(full.ids[:3], ((2, 3),)),))
    plan = make_plan(tiny_gpt2, [Job("whole", (full,)), short])
    assert sorted(len(r.ids) for r in plan.requests) == [3, len(full.ids)]


def test_extract_at_widths_pads_each_input_to_its_width(tiny_clip, monkeypatch):
    reqs = sentence_requests(tiny_clip, SENTENCES, "eos")
    widths = batch_widths(tiny_clip, reqs)
    calls = _calls(monkeypatch)
    got = extract_at_widths(tiny_clip, reqs, widths, progress=False)
    assert {w for _, w in calls} == set(widths.tolist())
    np.testing.assert_array_equal(got.states, extract(tiny_clip, reqs, progress=False).states)


def test_planning_records_extractions_without_running_them(tiny_gpt2, tmp_path, monkeypatch):
    s = MeasureOptions(cache=Cache(tmp_path), n_cwe=10)
    calls = _calls(monkeypatch)
    with planning() as recorded:
        out = word_states(tiny_gpt2, WORDS, ["bare", "wrapped"], s)
    assert calls == []
    assert [label for _, label, _ in recorded] == [
        "words n=4 space=False wrapped+eos",
        "words n=4 space=False bare",
    ]
    assert out["bare"].shape == (4, tiny_gpt2.spec.n_states, tiny_gpt2.spec.hidden_size)
    assert not out["bare"].layer(0).any()
    # the recorded requests are the ones the measurement extracts: after the plan, it
    # finds both entries in the cache and runs nothing
    jobs = [Job(label, reqs) for _, label, reqs in recorded]
    run_plan(tiny_gpt2, jobs, s.cache)
    calls.clear()
    got = word_states(tiny_gpt2, WORDS, ["bare", "wrapped"], s)
    assert calls == []
    bare = cached_extract(tiny_gpt2, word_requests(tiny_gpt2, WORDS, "bare"), label="x")
    np.testing.assert_array_equal(got["bare"].states, bare.states)


@pytest.mark.parametrize("batching", ["equal length", "one at a time"])
def test_extract_at_widths_keeps_the_models_batching(tiny_bert, monkeypatch, batching):
    lm = LoadedModel(
        replace(tiny_bert.spec, batching=batching), tiny_bert.tokenizer, tiny_bert.model
    )
    reqs = sentence_requests(lm, SENTENCES + SENTENCES[:1], "mean")
    widths = batch_widths(lm, reqs)
    assert (widths == [len(r.ids) for r in reqs]).all()  # no padding in either mode
    calls = _calls(monkeypatch)
    extract_at_widths(lm, reqs, widths, progress=False)
    if batching == "one at a time":
        assert all(rows == 1 for rows, _ in calls)
    else:
        assert len(calls) == len(set(widths.tolist()))
