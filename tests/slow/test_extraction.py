"""Batched extraction equals one input at a time on the real offline models (MiniLM,
SmolLM2)."""

from __future__ import annotations

import numpy as np
from support import SENTENCES, WORDS

from layerwise.extract.batched import extract
from layerwise.extract.requests import (
    Request,
    sentence_requests,
    word_requests,
)
from layerwise.extract.states import Extracted


def _one_at_a_time(lm, requests: list[Request]) -> Extracted:
    parts = [extract(lm, [r], batch_size=1) for r in requests]
    alt = None if parts[0].top_alt is None else np.concatenate([p.top_alt for p in parts])
    return Extracted(np.concatenate([p.states for p in parts]), alt)


def test_minilm_batched_equals_one_at_a_time(minilm):
    """A bidirectional encoder: right padding is harmless only because it is masked."""
    requests = sentence_requests(minilm, SENTENCES, "mean") + word_requests(minilm, WORDS, "eos")
    assert requests[0].ids[0] == 101 and requests[0].ids[-1] == 102
    batched = extract(minilm, requests, batch_size=4)
    single = _one_at_a_time(minilm, requests)
    assert batched.top_alt is None  # no final layer norm
    scale = np.abs(single.states).max()
    np.testing.assert_allclose(batched.states, single.states, rtol=0, atol=1e-5 * scale)


def test_smollm2_batched_equals_one_at_a_time(smollm2):
    requests = sentence_requests(smollm2, SENTENCES[:4], "eos")
    assert requests[0].ids[0] == requests[0].ids[-1] == 0
    batched = extract(smollm2, requests, batch_size=4)
    single = _one_at_a_time(smollm2, requests)
    # SmolLM2 has "massive activations" (single dimensions above 1,000 in the upper
    # layers); float32 sums in another order (batch shape) move such a value by up to
    # ~1e-4 of itself after 30 layers, so the check is relative over the whole array
    # (about 1e-6 over all layers; up to ~5e-5 on the four pre-norm top vectors alone)
    # rather than element by element.
    rel = np.linalg.norm(batched.states - single.states) / np.linalg.norm(single.states)
    assert rel < 1e-5
    alt = np.linalg.norm(batched.top_alt - single.top_alt) / np.linalg.norm(single.top_alt)
    assert alt < 2e-4
