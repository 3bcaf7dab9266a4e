"""The extraction plan (layerwise.store.plan): identical inputs run once, a causal model's
prefixes read from the longer input, each job's entry what its own extraction gives."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from layerwise.extract import batched
from layerwise.extract.batched import extract
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


def _calls(monkeypatch) -> list[tuple[int, int, int]]:
    """Log the (rows, width, shortest input) of every batch the extraction pads."""
    log: list[tuple[int, int, int]] = []
    real = batched._pad

    def pad(requests, batch, lengths, pad_id, device):
        log.append((len(batch), int(lengths[batch].max()), int(lengths[batch].min())))
        return real(requests, batch, lengths, pad_id, device)

    monkeypatch.setattr(batched, "_pad", pad)
    return log


def _assert_entry(cache, lm, plan, j, job):
    """Job ``j``'s cache entry holds its rows of the merged extraction, bit for bit (run
    here again, unpadded), and what its own extraction gives to float32 precision (the
    last bits depend on the batch's shape)."""
    entry = cache.load(cache_key(lm, job.requests, job.label))
    assert entry is not None, job.label
    merged = extract(lm, plan.requests, progress=False, padding=False)
    np.testing.assert_array_equal(entry.states, merged.states[plan.rows[j]])
    direct = extract(lm, job.requests, progress=False)
    np.testing.assert_allclose(entry.states, direct.states, rtol=1e-5, atol=1e-5)
    if direct.top_alt is not None:
        np.testing.assert_array_equal(entry.top_alt, merged.top_alt[plan.rows[j]])
        np.testing.assert_allclose(entry.top_alt, direct.top_alt, rtol=1e-5, atol=1e-5)


def test_identical_inputs_run_once_and_each_entry_is_its_own_extraction(
    tiny_bert, tmp_path, monkeypatch
):
    mean = sentence_requests(tiny_bert, SENTENCES, "mean")
    native = sentence_requests(tiny_bert, SENTENCES[1:3], "eos")  # the same ids for BERT
    jobs = [Job("mean", tuple(mean)), Job("eos", tuple(native))]
    assert [r.ids for r in native] == [r.ids for r in mean[1:3]]
    plan = make_plan(tiny_bert, jobs)
    assert len(plan.requests) == len(SENTENCES)  # the two shared inputs once
    assert plan.tokens == sum(len(r.ids) for r in mean)
    cache = Cache(tmp_path)
    calls = _calls(monkeypatch)
    assert run_plan(tiny_bert, jobs, cache) == 2
    assert sum(rows for rows, _, _ in calls) == len(SENTENCES)
    assert all(width == shortest for _, width, shortest in calls)  # no padding
    for j, job in enumerate(jobs):
        _assert_entry(cache, tiny_bert, plan, j, job)
    # planned entries are found: a second plan runs nothing
    calls.clear()
    assert run_plan(tiny_bert, jobs, cache) == 0
    assert calls == []
    # reading an entry the plan wrote this session counts as computed, not reused
    cache.counts.clear()
    cached_extract(tiny_bert, list(mean), label="mean", cache=cache, progress=False)
    assert cache.counts["extractions"] == {"reused": 0, "computed": 1}
    assert cache.report().startswith("extractions 0 reused, 1 computed")
    later = Cache(tmp_path)  # another session: the entry is reused
    cached_extract(tiny_bert, list(mean), label="mean", cache=later, progress=False)
    assert later.counts["extractions"] == {"reused": 1, "computed": 0}


def test_causal_prefixes_are_read_from_the_longest_input(tiny_gpt2, tmp_path, monkeypatch):
    (full,) = sentence_requests(tiny_gpt2, SENTENCES[1:2], "last")
    n = len(full.ids)
    assert n > 4
    longer = Job("whole", (full,))
    prefix = Job(
        "prefix", (Request(full.ids[:3], ((2, 3),)), Request(full.ids, ((1, 2), (n - 1, n))))
    )
    short = Job("short", (Request(full.ids[:2], ((0, 2),)),))  # alone, in its own job
    jobs = [longer, prefix, short]
    plan = make_plan(tiny_gpt2, jobs)
    assert len(plan.requests) == 1 and plan.requests[0].ids == full.ids
    assert sorted(plan.requests[0].reads) == [(0, 2), (1, 2), (2, 3), (n - 1, n)]
    assert plan.tokens == n
    cache = Cache(tmp_path)
    calls = _calls(monkeypatch)
    run_plan(tiny_gpt2, jobs, cache)
    assert calls == [(1, n, n)]
    for j, job in enumerate(jobs):
        _assert_entry(cache, tiny_gpt2, plan, j, job)


def test_a_bidirectional_models_prefix_runs_on_its_own(tiny_bert):
    (full,) = sentence_requests(tiny_bert, SENTENCES[2:3], "mean")
    short = Job("short", (Request(full.ids[:3], ((1, 2),)),))
    plan = make_plan(tiny_bert, [Job("whole", (full,)), short])
    assert sorted(len(r.ids) for r in plan.requests) == [3, len(full.ids)]


def test_unpadded_extraction_batches_one_length(tiny_clip, monkeypatch):
    reqs = sentence_requests(tiny_clip, SENTENCES + SENTENCES[:2], "eos")
    lengths = {len(r.ids) for r in reqs}
    assert len(lengths) > 1
    calls = _calls(monkeypatch)
    padded = extract(tiny_clip, reqs, progress=False)
    assert any(width > shortest for _, width, shortest in calls)  # the default pads
    calls.clear()
    got = extract(tiny_clip, reqs, progress=False, padding=False)
    assert all(width == shortest for _, width, shortest in calls)
    assert sorted(width for _, width, _ in calls) == sorted(lengths)
    np.testing.assert_allclose(got.states, padded.states, rtol=1e-5, atol=1e-5)


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
    np.testing.assert_allclose(got["bare"].states, bare.states, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("batching", ["equal length", "one at a time"])
def test_unpadded_extraction_keeps_the_models_batching(tiny_bert, monkeypatch, batching):
    lm = LoadedModel(
        replace(tiny_bert.spec, batching=batching), tiny_bert.tokenizer, tiny_bert.model
    )
    reqs = sentence_requests(lm, SENTENCES + SENTENCES[:1], "mean")
    calls = _calls(monkeypatch)
    extract(lm, reqs, progress=False, padding=False)
    assert all(width == shortest for _, width, shortest in calls)
    if batching == "one at a time":
        assert [rows for rows, _, _ in calls] == [1] * len(reqs)
    else:
        assert len(calls) == len({len(r.ids) for r in reqs})
