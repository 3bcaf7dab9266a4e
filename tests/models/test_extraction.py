"""Tests for layerwise.extraction: batching, position rules, token sampling.

References are computed independently of :func:`extract`: one forward pass per input through
the model itself, or the embedding tables (layer 0 = token embedding + position embedding).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from support import SENTENCES, WORDS, load_cpu, one_line

import layerwise.extract.requests as extract_requests
import layerwise.pipeline.config as pipeline_config
from layerwise.errors import (
    InputError,
    ModelLoadError,
)
from layerwise.extract.batched import _batches, default_max_tokens, extract
from layerwise.extract.requests import (
    Request,
    cwe_requests,
    native_inputs,
    requests_digest,
    sample_token_positions,
    sentence_requests,
    unique,
    word_requests,
)
from layerwise.extract.states import Extracted, RawLayers, StackedLayers, TakenLayers, stack
from layerwise.models.spec import LoadedModel
from layerwise.store.cache import Cache
from layerwise.store.cached import cached_extract

SETTINGS = [("sentence", s) for s in ("eos", "last", "mean")] + [
    ("word", s) for s in ("bare", "wrapped", "eos")
]


def _requests(lm, kind: str, setting: str) -> list[Request]:
    if kind == "sentence":
        return sentence_requests(lm, SENTENCES, setting)
    return word_requests(lm, WORDS, setting)


def _one_at_a_time(lm, requests: list[Request]) -> Extracted:
    parts = [extract(lm, [r], batch_size=1) for r in requests]
    alt = None if parts[0].top_alt is None else np.concatenate([p.top_alt for p in parts])
    return Extracted(np.concatenate([p.states for p in parts]), alt)


def _forward(lm, ids) -> tuple[np.ndarray, np.ndarray]:
    """Hidden states ``[n_states, len, d]`` of one unpadded input, straight from the model,
    and the final norm's output ``[len, d]`` applied to the last one."""
    with torch.inference_mode():
        out = lm.model(input_ids=torch.tensor([list(ids)]), output_hidden_states=True)
        hidden = torch.stack([h[0] for h in out.hidden_states])
        normed = lm.final_norm(hidden[-1])
    return hidden.numpy(), normed.numpy()


def _embedding_tables(lm) -> tuple[np.ndarray, np.ndarray]:
    """(token embeddings, position embeddings) of a tiny model."""
    if lm.spec.model_type == "gpt2":
        return lm.model.wte.weight.detach().numpy(), lm.model.wpe.weight.detach().numpy()
    emb = dict(lm.model.named_modules())
    tok = next(m for n, m in emb.items() if n.endswith("embeddings.token_embedding"))
    pos = next(m for n, m in emb.items() if n.endswith("embeddings.position_embedding"))
    return tok.weight.detach().numpy(), pos.weight.detach().numpy()


# ---------------------------------------------------------------------------------------------
# batched == one at a time
# ---------------------------------------------------------------------------------------------


def test_inputs_really_differ_in_length(tiny_gpt2, tiny_clip):
    for lm in (tiny_gpt2, tiny_clip):
        lengths = [len(lm.tokens(s)) for s in SENTENCES]
        assert min(lengths) <= 2 and max(lengths) >= 25


@pytest.mark.parametrize(("kind", "setting"), SETTINGS)
def test_batched_equals_one_at_a_time(tiny_model, kind, setting):
    requests = _requests(tiny_model, kind, setting)
    batched = extract(tiny_model, requests, batch_size=4)
    single = _one_at_a_time(tiny_model, requests)
    n = len(requests)
    assert batched.states.shape == (n, tiny_model.spec.n_states, tiny_model.spec.hidden_size)
    assert batched.states.dtype == np.float32
    np.testing.assert_allclose(batched.states, single.states, rtol=0, atol=1e-5)
    assert batched.top_alt.shape == (n, tiny_model.spec.hidden_size)
    np.testing.assert_allclose(batched.top_alt, single.top_alt, rtol=0, atol=1e-5)


def test_token_budget_splits_batches_without_changing_results(tiny_model):
    requests = sentence_requests(tiny_model, SENTENCES, "mean")
    whole = extract(tiny_model, requests, batch_size=64)
    split = extract(tiny_model, requests, batch_size=64, max_tokens=40)
    np.testing.assert_allclose(whole.states, split.states, rtol=0, atol=1e-5)
    np.testing.assert_allclose(whole.top_alt, split.top_alt, rtol=0, atol=1e-5)


def test_token_budget_defaults_by_device():
    assert default_max_tokens("cpu") == 1024
    assert default_max_tokens("cuda") == default_max_tokens("cuda:1") == 16384
    assert default_max_tokens("mps") == 16384


def test_batch_shapes_follow_the_token_budget():
    lengths = np.array([10, 40, 20, 30, 10])
    batches = _batches(lengths, batch_size=64, max_tokens=60)
    # longest first; each batch holds at most max_tokens // its longest input
    assert [list(b) for b in batches] == [[1], [3, 2], [0, 4]]
    assert [list(b) for b in _batches(lengths, batch_size=2, max_tokens=10_000)] == [
        [1, 3],
        [2, 0],
        [4],
    ]
    # an input longer than the budget still runs, alone
    assert [list(b) for b in _batches(np.array([50, 5]), 64, 8)] == [[0], [1]]


def test_extraction_matches_a_direct_forward_pass(tiny_model):
    """Every position of every sentence, batched, against the model run on each input alone;
    top_alt is the other final-norm convention of the top layer."""
    inputs, _ = native_inputs(tiny_model, SENTENCES)
    requests = [Request(ids, tuple((p, p + 1) for p in range(len(ids)))) for ids in inputs]
    ex = extract(tiny_model, requests, batch_size=4)
    row = 0
    for ids in inputs:
        hidden, normed = _forward(tiny_model, ids)
        got = ex.states[row : row + len(ids)]
        np.testing.assert_allclose(got, hidden.transpose(1, 0, 2), rtol=0, atol=1e-5)
        alt = ex.top_alt[row : row + len(ids)]
        if tiny_model.spec.top_state == "pre_norm":  # CLIP: the alternative is after the norm
            np.testing.assert_allclose(alt, normed, rtol=0, atol=1e-5)
        else:  # GPT-2: the alternative is before ln_f, so ln_f(alt) is the native top
            with torch.inference_mode():
                renormed = tiny_model.final_norm(torch.from_numpy(alt)).numpy()
            np.testing.assert_allclose(renormed, hidden[-1], rtol=0, atol=1e-4)
            assert not np.allclose(alt, hidden[-1], atol=1e-3)
        row += len(ids)
    assert row == len(ex)


def test_layer0_is_token_plus_position_embedding(tiny_model):
    """Right padding keeps position ids 0..len-1 in every row of a padded batch."""
    tok, pos = _embedding_tables(tiny_model)
    inputs, _ = native_inputs(tiny_model, SENTENCES)
    requests = [Request(ids, tuple((p, p + 1) for p in range(len(ids)))) for ids in inputs]
    ex = extract(tiny_model, requests, batch_size=3)
    expected = np.concatenate([tok[list(ids)] + pos[: len(ids)] for ids in inputs])
    np.testing.assert_allclose(ex.states[:, 0], expected, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# CLIP's EOS in an EOS-padded batch
# ---------------------------------------------------------------------------------------------


def test_clip_eos_read_is_each_rows_own_last_position(tiny_clip):
    requests = sentence_requests(tiny_clip, SENTENCES, "eos")
    for sentence, r in zip(SENTENCES, requests, strict=True):
        n = len(tiny_clip.tokenizer(sentence)["input_ids"])  # BOS + tokens + EOS
        assert r.ids[0] == 49406 and r.ids[-1] == 49407
        assert len(r.ids) == n
        assert r.reads == ((n - 1, n),)
    # short and long sentences in one batch: the short rows are padded with 49407 (EOS)
    ex = extract(tiny_clip, requests, batch_size=len(requests))
    for k, r in enumerate(requests):
        hidden, _ = _forward(tiny_clip, r.ids)
        np.testing.assert_allclose(ex.states[k], hidden[:, -1], rtol=0, atol=1e-5)


def test_clip_padding_positions_hold_different_states(tiny_clip):
    """Why the read must come from the row length: in a padded row the EOS id repeats, and
    the states at the padding positions differ from the real EOS state."""
    short = tuple(tiny_clip.tokenizer("Hi")["input_ids"])
    padded = short + (49407,) * 5
    real = extract(tiny_clip, [Request(short, ((len(short) - 1, len(short)),))])
    wrong = extract(tiny_clip, [Request(padded, ((len(padded) - 1, len(padded)),))])
    assert not np.allclose(real.states[:, 1:], wrong.states[:, 1:], atol=1e-3)


# ---------------------------------------------------------------------------------------------
# spans
# ---------------------------------------------------------------------------------------------


def test_span_read_is_the_mean_of_single_token_reads(tiny_model):
    ids = tuple(tiny_model.tokens(SENTENCES[3]))
    n = len(ids)
    assert n >= 6
    whole = extract(tiny_model, [Request(ids, ((0, n), (2, 5)))])
    singles = extract(tiny_model, [Request(ids, tuple((i, i + 1) for i in range(n)))])
    np.testing.assert_allclose(whole.states[0], singles.states.mean(0), rtol=0, atol=1e-5)
    np.testing.assert_allclose(whole.states[1], singles.states[2:5].mean(0), rtol=0, atol=1e-5)
    np.testing.assert_allclose(whole.top_alt[0], singles.top_alt.mean(0), rtol=0, atol=1e-5)


def test_reads_come_back_in_request_order(tiny_gpt2):
    """Several reads per request, requests of decreasing and increasing length."""
    ids_long = tuple(tiny_gpt2.tokens(SENTENCES[1]))
    ids_short = tuple(tiny_gpt2.tokens(SENTENCES[0]))
    requests = [Request(ids_short, ((2, 3), (0, 1))), Request(ids_long, ((5, 6),))]
    ex = extract(tiny_gpt2, requests, batch_size=2)
    h_short, _ = _forward(tiny_gpt2, ids_short)
    h_long, _ = _forward(tiny_gpt2, ids_long)
    np.testing.assert_allclose(ex.states[0], h_short[:, 2], rtol=0, atol=1e-5)
    np.testing.assert_allclose(ex.states[1], h_short[:, 0], rtol=0, atol=1e-5)
    np.testing.assert_allclose(ex.states[2], h_long[:, 5], rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------------------------
# position rules: words
# ---------------------------------------------------------------------------------------------


def test_word_settings_ids_and_reads(tiny_model):
    spec = tiny_model.spec
    for word in WORDS:
        toks = tuple(tiny_model.tokens(word))
        n = len(toks)
        (bare,) = word_requests(tiny_model, [word], "bare")
        assert bare.ids == toks
        assert bare.reads == ((n - 1, n),)
        (wrapped,) = word_requests(tiny_model, [word], "wrapped")
        assert wrapped.ids == (spec.open_id, *toks, spec.close_id)
        assert wrapped.reads == ((n, n + 1),)  # the last subtoken
        (eos,) = word_requests(tiny_model, [word], "eos")
        assert eos.ids == wrapped.ids
        assert eos.reads == ((n + 1, n + 2),)  # the closing token


def test_multi_subtoken_word_reads_its_last_subtoken(tiny_gpt2):
    (r,) = word_requests(tiny_gpt2, ["unbelievable"], "wrapped")
    toks = tiny_gpt2.tokenizer("unbelievable")["input_ids"]
    assert len(toks) == 4
    assert r.ids == (50256, *toks, 50256)
    assert r.ids[r.reads[0][0]] == toks[-1]


def test_leading_space_uses_the_word_initial_form(tiny_gpt2):
    assert word_requests(tiny_gpt2, ["cat"], "bare")[0].ids == (9246,)
    assert word_requests(tiny_gpt2, ["cat"], "bare", leading_space=True)[0].ids == (3797,)
    spaced = word_requests(tiny_gpt2, ["cat"], "wrapped", leading_space=True)[0]
    assert spaced.ids == (50256, 3797, 50256)
    assert spaced.reads == ((1, 2),)


def test_clip_word_wrapping_matches_its_tokenizer(tiny_clip):
    (r,) = word_requests(tiny_clip, ["cat"], "wrapped")
    assert r.ids == tuple(tiny_clip.tokenizer("cat")["input_ids"]) == (49406, 2368, 49407)
    assert r.reads == ((1, 2),)


@pytest.mark.parametrize("words", [[""], ["  "], [None], ["ok", ""]])
def test_word_requests_reject_empty_words(tiny_gpt2, words):
    with pytest.raises(InputError):
        word_requests(tiny_gpt2, words, "bare")


def test_unknown_settings_are_input_errors(tiny_gpt2):
    with pytest.raises(InputError, match="word setting"):
        word_requests(tiny_gpt2, ["cat"], "mean")
    with pytest.raises(InputError, match="sentence setting"):
        sentence_requests(tiny_gpt2, ["A cat."], "bare")


# ---------------------------------------------------------------------------------------------
# position rules: sentences
# ---------------------------------------------------------------------------------------------


def test_sentence_settings_ids_and_reads(tiny_gpt2, tiny_clip):
    text = "Dogs bark."
    g = tuple(tiny_gpt2.tokens(text))
    c = tuple(tiny_clip.tokens(text))
    n, m = len(g), len(c)
    (r,) = sentence_requests(tiny_gpt2, [text], "eos")
    assert r == Request((50256, *g, 50256), ((n + 1, n + 2),))
    (r,) = sentence_requests(tiny_gpt2, [text], "last")
    assert r == Request(g, ((n - 1, n),))
    (r,) = sentence_requests(tiny_gpt2, [text], "mean")  # GPT-2's native input: bare
    assert r == Request(g, ((0, n),))
    (r,) = sentence_requests(tiny_clip, [text], "eos")
    assert r == Request((49406, *c, 49407), ((m + 1, m + 2),))
    (r,) = sentence_requests(tiny_clip, [text], "last")
    assert r == Request(c, ((m - 1, m),))
    (r,) = sentence_requests(tiny_clip, [text], "mean")  # CLIP's native input: wrapped
    assert r == Request((49406, *c, 49407), ((1, m + 1),))


def test_native_inputs(tiny_gpt2, tiny_clip):
    inputs, offset = native_inputs(tiny_clip, ["a photo of a cat"])
    assert offset == 1
    assert inputs == [(49406, 320, 1125, 539, 320, 2368, 49407)]
    inputs, offset = native_inputs(tiny_gpt2, ["Hello world"])
    assert offset == 0
    assert inputs == [(15496, 995)]


# ---------------------------------------------------------------------------------------------
# token sampling
# ---------------------------------------------------------------------------------------------


def test_sample_all_tokens_with_empty_sentence_and_offset():
    sample = sample_token_positions([3, 0, 2], 5, np.random.default_rng(0), offset=1)
    assert sample.sentence.tolist() == [0, 0, 0, 2, 2]
    assert sample.position.tolist() == [1, 2, 3, 1, 2]
    assert sample.n_real_tokens == 5


def test_sampling_is_seeded_sorted_and_without_replacement():
    counts = [7, 1, 12, 0, 30, 5]
    a = sample_token_positions(counts, 20, np.random.default_rng(42))
    b = sample_token_positions(counts, 20, np.random.default_rng(42))
    c = sample_token_positions(counts, 20, np.random.default_rng(43))
    assert np.array_equal(a.sentence, b.sentence) and np.array_equal(a.position, b.position)
    assert not (np.array_equal(a.sentence, c.sentence) and np.array_equal(a.position, c.position))
    pairs = list(zip(a.sentence.tolist(), a.position.tolist(), strict=True))
    assert len(set(pairs)) == 20
    assert pairs == sorted(pairs)
    for s, p in pairs:
        assert 0 <= p < counts[s]


def test_sampling_is_uniform_over_tokens():
    """Each of 10 tokens (counts [1, 9]) is drawn with probability 1/10 per single draw, so
    sentence 0 gets ~10% of 4000 draws (binomial sd ~19)."""
    rng = np.random.default_rng(7)
    hits = sum(int(sample_token_positions([1, 9], 1, rng).sentence[0] == 0) for _ in range(4000))
    assert 320 < hits < 480


def test_sampling_more_than_available_is_an_input_error():
    with pytest.raises(InputError, match="cannot sample 6"):
        sample_token_positions([3, 0, 2], 6, np.random.default_rng(0))


def test_cwe_requests_never_read_clip_bos_or_eos(tiny_clip):
    inputs, _ = native_inputs(tiny_clip, SENTENCES)
    total = sum(len(ids) - 2 for ids in inputs)
    # sampling every real token reads exactly positions 1..len-2 of each input
    requests, sample = cwe_requests(tiny_clip, SENTENCES, total, np.random.default_rng(0))
    assert len(requests) == len(SENTENCES)
    for r, ids in zip(requests, inputs, strict=True):
        assert r.ids == ids
        assert [start for start, _ in r.reads] == list(range(1, len(ids) - 1))
    # a partial sample stays inside 1..len-2 too
    requests, sample = cwe_requests(tiny_clip, SENTENCES, 25, np.random.default_rng(3))
    assert sum(len(r.reads) for r in requests) == 25 == len(sample.position)
    for r in requests:
        assert r.ids[0] == 49406 and r.ids[-1] == 49407
        for start, stop in r.reads:
            assert 1 <= start <= len(r.ids) - 2 and stop == start + 1


def test_cwe_requests_gpt2_reads_real_tokens_only(tiny_gpt2):
    inputs, _ = native_inputs(tiny_gpt2, SENTENCES)
    total = sum(len(ids) for ids in inputs)
    requests, _ = cwe_requests(tiny_gpt2, SENTENCES, total, np.random.default_rng(0))
    for r, ids in zip(requests, inputs, strict=True):
        assert [start for start, _ in r.reads] == list(range(len(ids)))


def test_cwe_requests_skip_sentences_without_samples(tiny_clip):
    # one sampled token: exactly one of the two sentences is run, and it is the sampled one
    sentences = ["Hi", SENTENCES[1]]
    requests, sample = cwe_requests(tiny_clip, sentences, 1, np.random.default_rng(0))
    assert len(requests) == 1
    assert requests[0].ids == native_inputs(tiny_clip, [sentences[sample.sentence[0]]])[0][0]


# ---------------------------------------------------------------------------------------------
# request validation and windows
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reads", [((0, 4),), ((2, 2),), ((-1, 1),), ((3, 2),), ((0, 1), (1, 5))])
def test_request_spans_out_of_range(reads):
    with pytest.raises(InputError, match="outside an input of 3 tokens"):
        Request((1, 2, 3), reads)


def test_empty_request_and_empty_extraction(tiny_gpt2):
    with pytest.raises(InputError):
        Request((), ())
    with pytest.raises(InputError, match="no requests"):
        extract(tiny_gpt2, [])


def test_inputs_longer_than_the_window(tiny_clip, tiny_gpt2):
    ok = Request((320,) * 77, ((76, 77),))
    assert extract(tiny_clip, [ok]).states.shape == (1, 5, 64)
    too_long = Request((320,) * 78, ((0, 1),))
    with pytest.raises(InputError, match="77-token window") as err:
        extract(tiny_clip, [ok, too_long])
    assert "1 input(s)" in str(err.value) and "'a a a" in str(err.value)
    with pytest.raises(InputError, match="1024-token window"):
        extract(tiny_gpt2, [Request((995,) * 1025, ((0, 1),))])


# ---------------------------------------------------------------------------------------------
# Extracted, digests, unique
# ---------------------------------------------------------------------------------------------


def _toy() -> Extracted:
    states = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    return Extracted(states, -np.ones((2, 4), dtype=np.float32))


def test_take_selects_states_and_top_alt():
    ex = _toy()
    part = ex.take([1])
    assert len(part) == 1
    np.testing.assert_array_equal(part.states[0], ex.states[1])
    np.testing.assert_array_equal(part.top_alt[0], ex.top_alt[1])
    assert Extracted(ex.states, None).take(slice(0, 1)).top_alt is None


class CountingLayers:
    """A layer source over an in-memory ``[n, L, d]`` array that counts its layer reads."""

    def __init__(self, states: np.ndarray) -> None:
        self.states, self.reads = states, []
        self.shape = states.shape

    def layer(self, k: int) -> np.ndarray:
        self.reads.append(k)
        return self.states[:, k].copy()


def test_take_and_stack_are_lazy_views_that_read_one_layer(tmp_path):
    """A subset, a reordering with repeats, a subset of a subset and a stack of two
    extractions read only the layer asked for, and hold the numbers numpy's own indexing
    and concatenation give; ``states`` is never needed."""
    rng = np.random.default_rng(0)
    a_states = rng.standard_normal((6, 4, 3), dtype=np.float32)
    b_states = rng.standard_normal((2, 4, 3), dtype=np.float32)
    src = CountingLayers(a_states)
    a = Extracted(top_alt=a_states[:, -1] * 2, layers=src)
    part = a.take([4, 1, 1, 5])
    assert part.shape == (4, 4, 3) and part.on_disk and part.file is None
    np.testing.assert_array_equal(part.layer(2), a_states[[4, 1, 1, 5], 2])
    np.testing.assert_array_equal(part.top_alt, a_states[[4, 1, 1, 5], -1] * 2)
    assert src.reads == [2]  # that layer, once
    inner = part.take(slice(1, None, 2))  # rows 1 and 5 of a: one index into a
    assert isinstance(inner._layers, TakenLayers) and inner._layers.source is src
    np.testing.assert_array_equal(inner.layer(0), a_states[[1, 5], 0])
    np.testing.assert_array_equal(inner.top_alt, a_states[[1, 5], -1] * 2)
    # on disk: a layer-major file
    path = tmp_path / "b.f32"
    np.ascontiguousarray(b_states.transpose(1, 0, 2)).astype("<f4").tofile(path)
    b = Extracted(top_alt=b_states[:, 0], layers=RawLayers(path, 0, b_states.shape))
    both = stack([part, b])
    assert isinstance(both._layers, StackedLayers) and both.shape == (6, 4, 3)
    src.reads.clear()
    want = np.concatenate([a_states[[4, 1, 1, 5]], b_states])
    for k in range(4):
        np.testing.assert_array_equal(both.take([5, 0, 4]).layer(k), want[[5, 0, 4], k])
    assert src.reads == [0, 1, 2, 3]
    np.testing.assert_array_equal(both.top_alt, np.concatenate([part.top_alt, b.top_alt]))
    np.testing.assert_array_equal(both.states, want)  # every layer, for callers that want it
    assert stack([b]) is b
    assert stack([b, Extracted(b_states, None)]).top_alt is None
    with pytest.raises(InputError, match="outside"):
        a.take([6])
    with pytest.raises(InputError, match="different"):
        stack([a, Extracted(np.zeros((2, 3, 3), dtype=np.float32))])


def test_requests_digest_depends_on_ids_and_reads():
    a = [Request((1, 2, 3), ((0, 1),))]
    assert requests_digest(a) == requests_digest([Request((1, 2, 3), ((0, 1),))])
    assert requests_digest(a) != requests_digest([Request((1, 2, 3), ((1, 2),))])
    assert requests_digest(a) != requests_digest([Request((1, 2, 4), ((0, 1),))])
    b = [Request((1,), ((0, 1),)), Request((2,), ((0, 1),))]
    assert requests_digest(b) != requests_digest(b[::-1])


def test_unique_keeps_first_appearance_order():
    assert unique(["b", "a", "b", "c", "a"]) == ["b", "a", "c"]


def test_cwe_requests_include_special_reads_bos_and_eos(tiny_clip):
    """The authors' variant (include_special): every position of the native input may be
    drawn, so sampling them all reads 0..len-1."""
    inputs, _ = native_inputs(tiny_clip, SENTENCES[:3])
    total = sum(len(ids) for ids in inputs)
    requests, _ = cwe_requests(
        tiny_clip, SENTENCES[:3], total, np.random.default_rng(0), include_special=True
    )
    for r, ids in zip(requests, inputs, strict=True):
        assert [start for start, _ in r.reads] == list(range(len(ids)))


def test_request_without_reads_is_rejected():
    with pytest.raises(InputError, match="at least one read"):
        Request((320, 2368), ())


def test_non_finite_states_stop_extraction_and_cache_nothing(tiny_folder, tmp_path):
    """Used to: weights giving NaN were extracted to the end, the NaN states cached, and the
    run failed later in a statistic with a message naming no model."""
    lm = load_cpu(tiny_folder(tmp_path / "model"))
    with torch.no_grad():
        lm.model.h[1].mlp.c_proj.weight.fill_(float("nan"))  # block 1 -> hidden state 2
    cache = Cache(tmp_path / "cache")
    requests = word_requests(lm, ["cat", "dog"], "bare")
    with pytest.raises(ModelLoadError) as err:
        cached_extract(lm, requests, label="w", cache=cache)
    message = one_line(err.value)
    assert "model" in message and str(tmp_path / "model") in message
    assert "non-finite" in message and "layer 2 of 2" in message
    assert "'cat'" in message or "'dog'" in message
    assert "nothing was cached" in message and "Remedy" in message
    assert not list(cache.root.rglob("*.safetensors"))


def test_words_and_sentences_are_stripped_and_blank_ones_refused(tiny_gpt2) -> None:
    lm = tiny_gpt2
    assert extract_requests.word_requests(lm, ["cat "], "bare") == extract_requests.word_requests(
        lm, ["cat"], "bare"
    )
    assert extract_requests.sentence_requests(lm, [" A dog runs.\n"], "last") == (
        extract_requests.sentence_requests(lm, ["A dog runs."], "last")
    )
    assert extract_requests.native_inputs(lm, ["A dog.  "]) == extract_requests.native_inputs(
        lm, ["A dog."]
    )
    with pytest.raises(InputError, match=r"word 1 must be a non-empty string, got ' \\t '"):
        extract_requests.word_requests(lm, ["cat", " \t "], "wrapped")
    with pytest.raises(InputError, match="sentence 0 must be a non-empty string"):
        extract_requests.sentence_requests(lm, ["   "], "eos")
    with pytest.raises(InputError, match="single string"):
        extract_requests.sentence_requests(lm, "A dog runs.", "eos")


THREE_WORDS = ["cat", "dog", "house"]


def test_batch_size_zero_in_the_api(tiny_clip):
    with pytest.raises(InputError, match="positive"):
        extract(tiny_clip, word_requests(tiny_clip, THREE_WORDS, "bare"), batch_size=0)
    with pytest.raises(InputError, match="batch_size"):
        pipeline_config.RunConfig(profile="tiny", batch_size=0).validate(outputs=False)


def test_bert_requests_are_not_cut(tiny_bert):
    """A bidirectional model reads its whole input: extraction of a request that reads an
    early position equals a plain forward pass of the full input (and not of the input cut
    after the read, which gives other states)."""
    lm = tiny_bert
    sentences = ["the cat sat on the mat today", "a dog ran"]
    ids = [(lm.spec.open_id, *lm.tokens(t), lm.spec.close_id) for t in sentences]
    requests = [Request(ids[0], ((1, 2),)), Request(ids[1], ((2, 3),))]  # the second is padded
    got = extract(lm, requests).states  # [2, L + 1, d]
    with torch.inference_mode():
        for row, (request, (start, _)) in enumerate(
            zip(requests, [r.reads[0] for r in requests], strict=True)
        ):
            full = lm.model(input_ids=torch.tensor([request.ids]), output_hidden_states=True)
            want = torch.stack([h[0, start] for h in full.hidden_states]).numpy()
            np.testing.assert_allclose(got[row], want, rtol=1e-5, atol=1e-5)
            cut = lm.model(
                input_ids=torch.tensor([request.ids[: start + 1]]), output_hidden_states=True
            )
            cut_top = cut.hidden_states[-1][0, start].numpy()
            assert np.abs(cut_top - want[-1]).max() > 1e-3  # a cut would have been seen


def test_cut_inputs_equal_uncut_extraction(tiny_model):
    sentences = ["the cat sat on the mat today", "a dog ran far away from the house"]
    ids = [tuple(tiny_model.tokens(t)) for t in sentences]
    requests = [Request(i, ((1, 2), (3, 4))) for i in ids]
    cut = extract(tiny_model, requests)
    uncut_spec = dataclasses.replace(tiny_model.spec, causal=False)
    uncut = LoadedModel(uncut_spec, tiny_model.tokenizer, tiny_model.model, tiny_model.final_norm)
    full = extract(uncut, requests)
    np.testing.assert_allclose(cut.states, full.states, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(cut.top_alt, full.top_alt, atol=1e-5, rtol=1e-5)
