"""Tests for layerwise.experiments on the tiny models (random weights, exact tokenizers).

The tables' shapes and bounds are checked, and one value per experiment is recomputed by hand
at layer 0, where a hidden state is just token embedding + position embedding, so the whole
pipeline (words -> positions -> vectors -> cosines -> correlation) is checked end to end.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import layerwise as lw
import layerwise.extract.states as extract_states
import layerwise.measure.common as measure_common
import layerwise.measure.cwe as measure_cwe
import layerwise.measure.sentences as measure_sentences
import layerwise.store.cached as store_cached
from layerwise import data
from layerwise.data.registry import DATASETS
from layerwise.errors import InputError
from layerwise.measure.common import MeasureOptions
from layerwise.measure.cwe import CWE_MEASURES
from layerwise.measure.words import word_tasks
from layerwise.models.tokenizers import clip_tokenizer, gpt2_tokenizer
from layerwise.store.cache import Cache

TASK_SIZES = {t: DATASETS[t].count for t in word_tasks()}  # from the dataset registry
STSB_PAIRS = DATASETS["stsb"].count
WORD_SETTINGS = ("bare", "wrapped", "eos")
ALT = {"tiny:gpt2": "pre_norm", "tiny:clip": "post_norm"}


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> MeasureOptions:
    cache = Cache(tmp_path_factory.mktemp("layerwise-cache"))
    return MeasureOptions(n_cwe=300, n_resamples=50, cache=cache, progress=False)


def _expected_layers(lm) -> list[tuple[int, str]]:
    """(layer, top) of the rows of one quantity: 0..L native, then L in the other convention."""
    n = lm.spec.n_layers
    return [(layer, "native") for layer in range(n + 1)] + [(n, ALT[lm.spec.source])]


def _tables(lm) -> tuple[np.ndarray, np.ndarray]:
    """Token and position embedding tables of a tiny model (layer 0 = their sum)."""
    if lm.spec.model_type == "gpt2":
        return lm.model.wte.weight.detach().numpy(), lm.model.wpe.weight.detach().numpy()
    mods = dict(lm.model.named_modules())
    tok = next(m for n, m in mods.items() if n.endswith("embeddings.token_embedding"))
    pos = next(m for n, m in mods.items() if n.endswith("embeddings.position_embedding"))
    return tok.weight.detach().numpy(), pos.weight.detach().numpy()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosines, rounded so that pairs equal in exact arithmetic tie exactly (at
    layer 0 many vectors coincide, and ranks must not depend on the last bit)."""
    cos = np.einsum("ij,ij->i", a, b) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return np.round(cos, 10)


def _row(df: pd.DataFrame, **where) -> pd.Series:
    mask = np.ones(len(df), dtype=bool)
    for column, value in where.items():
        mask &= (df[column] == value).to_numpy()
    (index,) = np.flatnonzero(mask)
    return df.iloc[index]


# ---------------------------------------------------------------------------------------------
# sentences for CWEs
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def window(tiny_gpt2, tiny_clip):
    """cwe_sentence_set on the SemEval 2013 sentences (2,644, of which a few exceed CLIP's
    window): the same code path as all five years, at a fifteenth of the tokenizing time."""
    real = data.load_sts_sentences
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data, "load_sts_sentences", lambda: real(years=(2013,)))
        return measure_cwe.cwe_sentence_set([tiny_gpt2, tiny_clip])


def test_cwe_sentence_set_keeps_exactly_what_fits_clip(window, tiny_gpt2, tiny_clip):
    texts = [s.text for s in data.load_sts_sentences(years=(2013,))]
    assert window.n_items == len(texts)
    # recount independently with CLIP's tokenizer (BOS and EOS included)
    counts = [len(ids) for ids in clip_tokenizer()(texts)["input_ids"]]
    fits = [c <= 77 for c in counts]
    assert [s.text for s in window.kept] == [t for t, f in zip(texts, fits, strict=True) if f]
    assert [s.text for s in window.dropped] == [
        t for t, f in zip(texts, fits, strict=True) if not f
    ]
    assert 0 < len(window.dropped) < 20  # the filter has something to do
    assert window.limits[tiny_gpt2.spec.name] == 1024
    assert window.limits[tiny_clip.spec.name] == 77
    assert window.dropped_by_model[tiny_gpt2.spec.name] == 0
    assert window.dropped_by_model[tiny_clip.spec.name] == len(window.dropped)
    # a few by hand: every dropped sentence is over 77 CLIP tokens but fits GPT-2's window;
    # the kept sentence with the most characters still fits
    for sentence in window.dropped:
        assert len(clip_tokenizer()(sentence.text)["input_ids"]) > 77
        assert len(gpt2_tokenizer()(sentence.text)["input_ids"]) <= 1024
    longest_kept = max(window.kept, key=lambda s: len(s.text)).text
    assert len(clip_tokenizer()(longest_kept)["input_ids"]) <= 77


def test_cwe_sentence_set_boundary_is_77_tokens(tiny_gpt2, tiny_clip, monkeypatch):
    """The word "a" is one CLIP token (320): 75 of them + BOS + EOS = 77 fits, 76 do not."""
    fits = data.Sentence(" ".join(["a"] * 75), "x")
    too_long = data.Sentence(" ".join(["a"] * 76), "x")
    assert clip_tokenizer()(fits.text)["input_ids"] == [49406] + [320] * 75 + [49407]
    monkeypatch.setattr(data, "load_sts_sentences", lambda: [too_long, fits])
    result = measure_cwe.cwe_sentence_set([tiny_gpt2, tiny_clip])
    assert result.kept == [fits]
    assert result.dropped == [too_long]


def test_cwe_sentence_set_applies_clip_window_without_clip(tiny_gpt2, monkeypatch):
    """With GPT-2 alone (1024-token window) CLIP's window still decides (one sentence set
    for every profile)."""
    fits = data.Sentence(" ".join(["a"] * 75), "x")
    too_long = data.Sentence(" ".join(["a"] * 76), "x")
    monkeypatch.setattr(data, "load_sts_sentences", lambda: [too_long, fits])
    result = measure_cwe.cwe_sentence_set([tiny_gpt2])
    assert result.kept == [fits]
    assert result.dropped == [too_long]


# ---------------------------------------------------------------------------------------------
# chapter 3: CWE geometry
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cwe_sentences(tiny_clip) -> list[str]:
    texts = [s.text for s in data.load_sts_sentences(years=[2012])][:400]
    return [t for t in texts if len(tiny_clip.tokens(t)) + 2 <= 77]


def _pairwise_self_similarity(x: np.ndarray) -> float:
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    cos = unit @ unit.T
    n = len(x)
    return float((cos.sum() - np.trace(cos)) / (n * (n - 1)))


def _top_k_share_by_hand(x: np.ndarray, k: int) -> float:
    largest = -np.sort(-np.abs(x), axis=1)[:, :k]
    return float(np.mean(np.linalg.norm(largest, axis=1) / np.linalg.norm(x, axis=1)))


def test_cwe_geometry_table(tiny_model, cwe_sentences, settings):
    ex = lw.cwe_states(tiny_model, cwe_sentences, settings)
    assert ex.states.shape == (300, tiny_model.spec.n_states, tiny_model.spec.hidden_size)
    df = lw.cwe_geometry(ex, tiny_model)
    assert list(dict.fromkeys(df.measure)) == list(CWE_MEASURES)
    assert (df.model == tiny_model.spec.name).all()
    for measure in CWE_MEASURES:
        rows = df[df.measure == measure]
        assert list(zip(rows.layer, rows.top, strict=True)) == _expected_layers(tiny_model)
    assert df[df.measure == "self_similarity"].value.between(-1, 1).all()
    for measure in ("top5_share", "top8_share"):
        values = df[df.measure == measure].value
        assert ((values > 0) & (values <= 1)).all()
    for suffix in ("", "_script"):
        top5 = df[df.measure == f"top5_share{suffix}"].value.to_numpy()
        top8 = df[df.measure == f"top8_share{suffix}"].value.to_numpy()
        assert (top8 >= top5).all()
    # values by hand: every native layer, then the other top-layer convention
    views = [ex.states[:, layer] for layer in range(tiny_model.spec.n_states)] + [ex.top_alt]
    for measure, by_hand in [
        ("self_similarity", _pairwise_self_similarity),
        ("top5_share", lambda x: _top_k_share_by_hand(x, 5)),
        ("top8_share", lambda x: _top_k_share_by_hand(x, 8)),
    ]:
        values = df[df.measure == measure].value.to_numpy()
        expected = [by_hand(v.astype(np.float64)) for v in views]
        np.testing.assert_allclose(values, expected, rtol=0, atol=1e-6)


def test_cwe_states_are_seeded(tiny_clip, cwe_sentences, settings):
    uncached = dataclasses.replace(settings, cache=None)
    a = lw.cwe_states(tiny_clip, cwe_sentences, uncached)
    b = lw.cwe_states(tiny_clip, cwe_sentences, uncached)
    c = lw.cwe_states(tiny_clip, cwe_sentences, dataclasses.replace(uncached, seed=1))
    np.testing.assert_array_equal(a.states, b.states)
    assert not np.allclose(a.states, c.states)


# ---------------------------------------------------------------------------------------------
# chapter 4: word tasks
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def word_scores(tiny_gpt2, tiny_clip, settings) -> dict[str, pd.DataFrame]:
    return {lm.spec.source: lw.word_task_scores(lm, s=settings) for lm in (tiny_gpt2, tiny_clip)}


def test_word_task_table(tiny_model, word_scores):
    df = word_scores[tiny_model.spec.source]
    assert set(df.setting) == set(WORD_SETTINGS)
    assert set(df.task) == set(TASK_SIZES)
    for setting in WORD_SETTINGS:
        for task, size in TASK_SIZES.items():
            rows = df[(df.setting == setting) & (df.task == task)]
            assert list(zip(rows.layer, rows.top, strict=True)) == _expected_layers(tiny_model)
            assert (rows.n == size).all()

    # only layer 0 of the "eos" setting can be undefined: there a vector depends on the word's
    # length alone. When the pleasant and unpleasant words have the same lengths (as
    # multisets) every SC-WEAT effect size is 0 and Pearson's r against valence is undefined
    # (NaN); a similarity set whose pairs all have the same two lengths has one cosine for
    # every pair (its rho is undefined), and one where nearly all do may draw bootstrap
    # resamples of equal cosines (its interval is undefined)
    def lengths(words):
        return sorted(len(tiny_model.tokens(w)) for w in words)

    def one_cosine(task: str) -> bool:
        pairs = data.load_word_pairs(task)
        return len({tuple(lengths([p.word1, p.word2])) for p in pairs}) == 1

    degenerate = lengths(data.PLEASANT) == lengths(data.UNPLEASANT)
    undefined = df[df[["value", "low", "high"]].isna().any(axis=1)]
    found = list(
        zip(undefined.setting, undefined.task, undefined.layer, undefined.top, strict=True)
    )
    assert all((st, layer, top) == ("eos", 0, "native") for st, _, layer, top in found)
    assert (("eos", "valnorm", 0, "native") in found) == degenerate
    no_value = undefined[undefined["value"].isna() & (undefined["task"] != "valnorm")]
    assert list(no_value["task"]) == [t for t in data.word_similarity_tasks() if one_cosine(t)]
    scored = df.drop(index=undefined.index)
    assert (scored.low <= scored.value).all() and (scored.value <= scored.high).all()
    assert scored.value.between(-1, 1).all()
    assert not df.leading_space.any()


def _word_layer0(lm, words: list[str], setting: str) -> np.ndarray:
    """Layer-0 vectors of words, by hand: last subtoken's embedding at its position."""
    tok, pos = _tables(lm)
    out = []
    for word in words:
        ids = lm.tokenizer(word, add_special_tokens=False)["input_ids"]
        position = len(ids) - 1 if setting == "bare" else len(ids)
        out.append(tok[ids[-1]] + pos[position])
    return np.array(out, dtype=np.float64)


@pytest.mark.parametrize(("source", "setting"), [("tiny:gpt2", "bare"), ("tiny:clip", "wrapped")])
def test_rg65_layer0_by_hand(word_scores, tiny_gpt2, tiny_clip, source, setting):
    lm = {"tiny:gpt2": tiny_gpt2, "tiny:clip": tiny_clip}[source]
    pairs = data.load_word_pairs("rg65")
    a = _word_layer0(lm, [p.word1 for p in pairs], setting)
    b = _word_layer0(lm, [p.word2 for p in pairs], setting)
    expected = stats.spearmanr(_cosines(a, b), [p.score for p in pairs]).statistic
    row = _row(word_scores[source], setting=setting, task="rg65", layer=0, top="native")
    assert row.value == pytest.approx(expected, abs=1e-6)


def test_valnorm_layer0_by_hand(word_scores, tiny_gpt2):
    lex = data.load_valnorm()
    targets = _word_layer0(tiny_gpt2, [w.word for w in lex], "bare")
    attrs = _word_layer0(tiny_gpt2, list(data.PLEASANT) + list(data.UNPLEASANT), "bare")
    unit_t = targets / np.linalg.norm(targets, axis=1, keepdims=True)
    unit_a = attrs / np.linalg.norm(attrs, axis=1, keepdims=True)
    cos = unit_t @ unit_a.T  # [399, 50]: 25 pleasant then 25 unpleasant
    effect = (cos[:, :25].mean(1) - cos[:, 25:].mean(1)) / cos.std(axis=1, ddof=1)
    expected = np.corrcoef(effect, [w.valence for w in lex])[0, 1]
    row = _row(word_scores["tiny:gpt2"], setting="bare", task="valnorm", layer=0, top="native")
    assert row.value == pytest.approx(expected, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# chapter 5: sentences
# ---------------------------------------------------------------------------------------------


def _sts_raw() -> list[list[str]]:
    """The STS-B test file split on tabs only (methodology note 3)."""
    path = data.dataset_dir() / "sts-benchmark" / "sts-test.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip()]


def _clip_eos_layer0(lm, sentences: list[str]) -> np.ndarray:
    """CLIP "eos" at layer 0: the EOS embedding at position len - 1 (BOS and EOS counted)."""
    tok, pos = _tables(lm)
    lengths = [len(ids) for ids in lm.tokenizer(sentences)["input_ids"]]
    return np.array([tok[49407] + pos[n - 1] for n in lengths], dtype=np.float64)


@pytest.fixture(scope="module")
def clip_sts(tiny_clip, settings) -> pd.DataFrame:
    return lw.sts_benchmark_scores(tiny_clip, s=settings)


def test_sts_benchmark_table(clip_sts, tiny_clip):
    assert (clip_sts.n == STSB_PAIRS).all()
    assert (clip_sts.task == "stsb").all()
    for setting in ("eos", "last", "mean"):
        rows = clip_sts[clip_sts.setting == setting]
        assert list(zip(rows.layer, rows.top, strict=True)) == _expected_layers(tiny_clip)
    assert (clip_sts.low <= clip_sts.value).all() and (clip_sts.value <= clip_sts.high).all()


def test_sts_benchmark_clip_eos_layer0_by_hand(clip_sts, tiny_clip):
    rows = _sts_raw()
    assert len(rows) == STSB_PAIRS
    left = [r[5].strip() for r in rows]
    right = [r[6].strip() for r in rows]
    gold = [float(r[4]) for r in rows]
    cos = _cosines(_clip_eos_layer0(tiny_clip, left), _clip_eos_layer0(tiny_clip, right))
    expected = stats.spearmanr(cos, gold).statistic
    row = _row(clip_sts, setting="eos", layer=0, top="native")
    assert row.value == pytest.approx(expected, abs=1e-6)


def test_sts_benchmark_gpt2_last_layer0_by_hand(tiny_gpt2, settings):
    df = lw.sts_benchmark_scores(tiny_gpt2, settings=("last",), s=settings)
    assert list(zip(df.layer, df.top, strict=True)) == _expected_layers(tiny_gpt2)
    assert (df.n == STSB_PAIRS).all()
    tok, pos = _tables(tiny_gpt2)

    def vectors(sentences):
        ids = tiny_gpt2.tokenizer(sentences)["input_ids"]
        return np.array([tok[i[-1]] + pos[len(i) - 1] for i in ids], dtype=np.float64)

    rows = _sts_raw()
    cos = _cosines(vectors([r[5].strip() for r in rows]), vectors([r[6].strip() for r in rows]))
    expected = stats.spearmanr(cos, [float(r[4]) for r in rows]).statistic
    assert _row(df, layer=0, top="native").value == pytest.approx(expected, abs=1e-6)


def test_sentence_self_similarity_all_unique(tiny_clip, settings, clip_sts):
    df = lw.sentence_self_similarity(tiny_clip, ("eos",), settings)
    assert list(zip(df.layer, df.top, strict=True)) == _expected_layers(tiny_clip)
    assert (df.n == 2552).all()
    assert (df.sentences == "all unique").all()
    assert df.value.between(-1, 1).all()
    rows = _sts_raw()
    unique = list(dict.fromkeys(s for r in rows for s in (r[5].strip(), r[6].strip())))
    assert len(unique) == 2552
    expected = _pairwise_self_similarity(_clip_eos_layer0(tiny_clip, unique))
    assert _row(df, layer=0, top="native").value == pytest.approx(expected, abs=1e-6)


def test_sentence_self_similarity_left_only(tiny_clip, settings):
    df = lw.sentence_self_similarity(tiny_clip, ("eos",), settings, left_only=True)
    left = list(dict.fromkeys(r[5].strip() for r in _sts_raw()))
    assert 0 < len(left) < 2552
    assert (df.n == len(left)).all()
    assert (df.sentences == "left only").all()
    expected = _pairwise_self_similarity(_clip_eos_layer0(tiny_clip, left))
    assert _row(df, layer=0, top="native").value == pytest.approx(expected, abs=1e-6)


def test_sentence_input_groups_follow_the_tokenizers_wrapping(tiny_gpt2, tiny_clip):
    # GPT-2 wraps nothing itself: "mean" reads the bare sentence, like "last"
    assert measure_sentences.sentence_input_groups(tiny_gpt2) == [("eos",), ("last", "mean")]
    # CLIP's tokenizer adds start/end: "mean" reads the same ids as "eos"
    assert measure_sentences.sentence_input_groups(tiny_clip) == [("eos", "mean"), ("last",)]


@pytest.mark.parametrize("setting", ["eos", "last", "mean"])
def test_sentence_states_equal_direct_extraction_and_run_only_added_sentences(
    tiny_model, setting, tmp_path, monkeypatch
):
    from layerwise.extract.batched import extract
    from layerwise.extract.requests import sentence_requests

    s = MeasureOptions(n_cwe=10, n_resamples=10, cache=Cache(tmp_path), progress=False)
    stsb = data.sts_benchmark_sentences(data.load_sts_benchmark())
    added = ["A sentence the benchmark does not hold.", "Nor this one, surely."]
    texts = [stsb[7], added[1], *stsb[100:300], added[0], stsb[7]]  # order and a repeat
    ran: list[int] = []
    real = store_cached.extract
    monkeypatch.setattr(
        store_cached, "extract", lambda lm, r, **k: ran.append(len(r)) or real(lm, r, **k)
    )
    got = lw.sentence_states(tiny_model, texts, setting, s)
    # the STS-B sentences and the two added ones, each in one forward pass for its group
    assert ran == [len(stsb), 2]
    direct = extract(tiny_model, sentence_requests(tiny_model, texts, setting)).states
    np.testing.assert_allclose(got.states, direct, rtol=1e-4, atol=1e-5)
    ran.clear()
    (group,) = [g for g in measure_sentences.sentence_input_groups(tiny_model) if setting in g]
    for other in group:  # the other settings of the group are already there
        lw.sentence_states(tiny_model, stsb[:50], other, s)
    assert ran == []


def test_sentence_states_of_unrelated_texts_do_not_run_the_benchmark(tiny_gpt2, tmp_path):
    s = MeasureOptions(n_cwe=10, n_resamples=10, cache=Cache(tmp_path), progress=False)
    stsb = data.sts_benchmark_sentences(data.load_sts_benchmark())
    texts = [stsb[0], "One unrelated sentence.", "Another one."]  # 1 of 3 known: no reuse
    got = lw.sentence_states(tiny_gpt2, texts, "eos", s)
    assert got.states.shape[0] == 3
    assert (s.cache.hits, s.cache.misses) == (0, 1)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def test_alt_top_name(tiny_gpt2, tiny_clip):
    assert measure_common.alt_top_name(tiny_gpt2) == "pre_norm"
    assert measure_common.alt_top_name(tiny_clip) == "post_norm"


def test_check_settings():
    measure_common.check_settings(["eos"], ["eos", "last"], "sentence")
    with pytest.raises(InputError, match="unknown sentence setting"):
        measure_common.check_settings(["eos", "bogus"], ["eos", "last"], "sentence")


# ---------------------------------------------------------------------------------------------
# the exercises' calls: first or last subtoken, any word pairs, STS-B pair by pair
# ---------------------------------------------------------------------------------------------


def test_subtoken_requests_read_the_first_or_the_last_piece(tiny_gpt2, tiny_clip):
    from layerwise.extract.requests import word_requests
    from layerwise.measure.words import subtoken_requests

    n = len(tiny_gpt2.tokens("magician"))
    assert n == 2  # GPT-2 splits it when there is no leading space: mag + ician
    (last,) = subtoken_requests(tiny_gpt2, ["magician"], "bare")
    (first,) = subtoken_requests(tiny_gpt2, ["magician"], "bare", subtoken="first")
    assert last == word_requests(tiny_gpt2, ["magician"], "bare")[0]
    assert first.ids == last.ids
    assert (first.reads, last.reads) == (((0, 1),), ((n - 1, n),))
    (wrapped,) = subtoken_requests(tiny_gpt2, ["magician"], "wrapped", subtoken="first")
    assert wrapped.ids[0] == tiny_gpt2.spec.open_id and wrapped.reads == ((1, 2),)
    # a word kept whole: both rules read the same position
    (whole,) = subtoken_requests(tiny_clip, ["cat"], "wrapped", subtoken="first")
    assert whole == word_requests(tiny_clip, ["cat"], "wrapped")[0]
    with pytest.raises(InputError, match="closing token"):
        subtoken_requests(tiny_gpt2, ["cat"], "eos", subtoken="first")
    with pytest.raises(InputError, match="subtoken"):
        subtoken_requests(tiny_gpt2, ["cat"], "bare", subtoken="middle")


def test_word_pair_scores_equal_the_task_scores_on_the_task_pairs(word_scores, tiny_gpt2, settings):
    from layerwise.measure.words import word_pair_scores

    pairs = data.load_word_pairs("rg65")
    got = word_pair_scores(tiny_gpt2, pairs, settings, setting="bare", task="rg65")
    want = word_scores["tiny:gpt2"]
    want = want[(want.setting == "bare") & (want.task == "rg65")]
    assert list(zip(got.layer, got.top, strict=True)) == _expected_layers(tiny_gpt2)
    assert got.value.to_numpy() == pytest.approx(want.value.to_numpy(), abs=1e-6)
    assert (got.n == len(pairs)).all() and (got.subtoken == "last").all()
    assert (got.task == "rg65").all()
    assert (got.low <= got.value).all() and (got.value <= got.high).all()
    first = word_pair_scores(tiny_gpt2, pairs, settings, setting="bare", subtoken="first")
    assert (first.subtoken == "first").all() and (first.task == "pairs").all()
    assert not np.allclose(first.value, got.value)  # many RG65 words are split by GPT-2
    with pytest.raises(InputError, match="at least 3"):
        word_pair_scores(tiny_gpt2, pairs[:2], settings)


def test_sts_pair_cosines_give_the_benchmark_score(clip_sts, tiny_clip, settings):
    df = measure_sentences.sts_pair_cosines(tiny_clip, "eos", settings)
    assert len(df) == STSB_PAIRS
    assert list(df.columns) == ["genre", "sentence1", "sentence2", "gold", "cosine", "rank_gap"]
    assert df["rank_gap"].between(-1, 1).all()
    top = _row(clip_sts, setting="eos", layer=tiny_clip.spec.n_layers, top="native")
    assert stats.spearmanr(df.gold, df.cosine).statistic == pytest.approx(top.value, abs=1e-6)
    captions = [p for p in data.load_sts_benchmark() if p.genre == "main-captions"]
    part = measure_sentences.sts_pair_cosines(tiny_clip, "eos", settings, layer=1, pairs=captions)
    assert len(part) == len(captions) and (part.genre == "main-captions").all()
    with pytest.raises(InputError, match="outside"):
        measure_sentences.sts_pair_cosines(tiny_clip, "eos", settings, layer=99)


def test_word_states_keeps_order_and_repeats_and_refuses_a_bare_string(tiny_gpt2) -> None:
    s = MeasureOptions(cache=None, progress=False)
    out = lw.word_states(tiny_gpt2, ["dog", "cat ", "dog"], ["bare", "eos"], s)
    alone = lw.word_states(tiny_gpt2, ["cat"], ["bare", "eos"], s)
    for setting in ("bare", "eos"):
        states = out[setting].states
        assert states.shape[0] == 3
        assert np.array_equal(states[0], states[2])  # the repeat is kept, same vector
        np.testing.assert_allclose(states[1], alone[setting].states[0], atol=1e-5)
        assert not np.allclose(states[0], states[1])
    with pytest.raises(InputError, match="single string 'dog'"):
        lw.word_states(tiny_gpt2, "dog", ["bare"], s)


@pytest.mark.parametrize(
    ("call", "choices"),
    [
        (lambda lm, s: lw.word_states(lm, ["dog"], ["bogus"], s), "bare"),
        (lambda lm, s: lw.word_task_scores(lm, ("bare",), s, tasks=("men",)), "rg65"),
        (lambda lm, s: lw.sts_benchmark_scores(lm, ("bogus",), s), "last"),
        (lambda lm, s: lw.sentence_self_similarity(lm, ("bogus",), s), "mean"),
        (lambda lm, s: lw.sentence_states(lm, ["A dog."], "bogus", s), "eos"),
    ],
)
def test_unknown_settings_are_input_errors_listing_the_choices(
    tiny_gpt2, tmp_path: Path, call, choices: str
) -> None:
    s = MeasureOptions(cache=None, progress=False)
    with pytest.raises(InputError, match=r"unknown .* setting\(s\) \['(bogus|men)'\]") as info:
        call(tiny_gpt2, s)
    assert "choose from" in str(info.value) and choices in str(info.value)


def test_an_unknown_cwe_measure_is_an_input_error(tiny_gpt2) -> None:
    ex = extract_states.Extracted(np.ones((3, tiny_gpt2.spec.n_states, 4), np.float32), None)
    with pytest.raises(InputError, match=r"unknown CWE measure setting\(s\) \['bogus'\]"):
        lw.cwe_geometry(ex, tiny_gpt2, ["bogus"])


# ---------------------------------------------------------------------------------------------
# empty or degenerate collections: refused naming the argument, before any work
# ---------------------------------------------------------------------------------------------

EMPTY = [
    ("sentence_states", lambda lm, s: lw.sentence_states(lm, [], "mean", s), "sentences"),
    ("word_states", lambda lm, s: lw.word_states(lm, [], ["bare"], s), "words"),
    ("word_states", lambda lm, s: lw.word_states(lm, ["cat"], [], s), "settings"),
    ("word_task_scores", lambda lm, s: lw.word_task_scores(lm, [], s), "settings"),
    ("word_task_scores", lambda lm, s: lw.word_task_scores(lm, ["bare"], s, tasks=[]), "tasks"),
    ("word_pair_scores", lambda lm, s: lw.word_pair_scores(lm, [], s), "pairs"),
    ("sts_benchmark_scores", lambda lm, s: lw.sts_benchmark_scores(lm, [], s), "settings"),
    (
        "sts_benchmark_scores",
        lambda lm, s: lw.sts_benchmark_scores(lm, ["mean"], s, pairs=[]),
        "pairs",
    ),
    ("sentence_self_similarity", lambda lm, s: lw.sentence_self_similarity(lm, [], s), "settings"),
    (
        "sts_pair_cosines",
        lambda lm, s: measure_sentences.sts_pair_cosines(lm, "eos", s, pairs=[]),
        "pairs",
    ),
    ("cwe_states", lambda lm, s: lw.cwe_states(lm, [], s), "sentences"),
    ("cwe_sentences", lambda lm, s: lw.cwe_sentences([], s), "models"),
    ("cwe_geometry", lambda lm, s: lw.cwe_geometry(None, lm, []), "measures"),
    ("compare_tables", lambda lm, s: lw.compare_tables([], s), "models"),
    ("deviation_table", lambda lm, s: lw.deviation_table({}, {}, s), "models"),
]


@pytest.mark.parametrize(
    ("function", "call", "argument"), EMPTY, ids=[f"{f}-{a}" for f, _, a in EMPTY]
)
def test_an_empty_collection_is_refused_naming_the_argument_before_any_work(
    tiny_gpt2, monkeypatch, function, call, argument
) -> None:
    """Used to: an empty sentence list extracted and cached the whole STS-B set and returned
    zero rows; empty settings, tasks or models gave empty tables after the work (an empty task
    list extracted every task word first); cwe_geometry read an empty measure list as "every
    measure"; cwe_sentences of no model filtered the corpus to CLIP's window alone; empty STS-B
    pairs extracted the benchmark before a statistics error naming an internal ``a``;
    compare_tables of no model failed in pandas ("No objects to concatenate"), cwe_states of no
    sentence after tokenizing the STS corpus."""

    def no_work(*args, **kwargs):
        raise AssertionError("work was done for an empty argument")

    monkeypatch.setattr(measure_common, "cached_extract", no_work)
    monkeypatch.setattr(tiny_gpt2, "tokens_many", no_work)
    monkeypatch.setattr(data, "load_sts_sentences", no_work)
    s = MeasureOptions(n_cwe=10, n_resamples=10, cache=None, progress=False)
    with pytest.raises(InputError) as info:
        call(tiny_gpt2, s)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{function}: {argument} ")
    assert "is empty" in message


@pytest.mark.parametrize(
    ("field", "value"),
    [("n_cwe", 0), ("batch_size", -1), ("n_resamples", 0), ("n_cwe", 1.5), ("seed", -1)],
)
def test_measure_options_refuse_a_degenerate_size_or_seed(field, value) -> None:
    """Used to: MeasureOptions(n_resamples=0) was accepted and failed after the extraction
    (in the bootstrap), n_cwe=0 sampled nothing and a negative seed failed in numpy's seed
    sequence at the first random step."""
    with pytest.raises(InputError, match=f"MeasureOptions: {field} must be a"):
        MeasureOptions(cache=None, **{field: value})


def test_a_task_whose_words_become_the_unknown_token_says_so_in_its_note(tiny_folder, tmp_path):
    """Used to: words the tokenizer maps to its unknown token all got the unknown token's
    one state, which changes the task's score, and neither the table nor a warning said so;
    a table whose words are all known has no note column, as before."""
    from support import load_cpu

    lm = load_cpu(tiny_folder(tmp_path / "model"))
    s = MeasureOptions(n_resamples=10, cache=None, progress=False)
    pairs = [
        data.WordPair("cat", "dog", 9.0),
        data.WordPair("the", "mat", 2.0),
        data.WordPair("house", "zebra", 3.0),
        data.WordPair("sat", "on", 5.0),
        data.WordPair("naïve", "word", 1.0),
    ]
    with pytest.warns(UserWarning, match=r"2 text\(s\) hold the tokenizer's unknown token"):
        df = lw.word_pair_scores(lm, pairs, s, setting="bare")
    assert set(df["note"]) == {
        "2 of 5 pairs read a text holding the tokenizer's unknown token '[UNK]' (2: 'zebra', "
        "'naïve'), where what it cannot spell shares one embedding"
    }
    known = lw.word_pair_scores(lm, [pairs[0], pairs[1], pairs[3]], s, setting="bare")
    assert "note" not in known.columns
    with pytest.warns(UserWarning, match="unknown token"):
        tasks = lw.word_task_scores(lm, ["bare"], s, tasks=["rg65", "valnorm"])
    notes = dict(zip(tasks["task"], tasks["note"], strict=True))
    assert notes["rg65"].startswith("65 of 65 pairs read a text holding")
    assert notes["valnorm"].startswith("399 of 399 words read a text holding")  # attributes
