"""Tests for layerwise.measure.undefined: a token whose embedding row is zero (issue 24).

The model: tiny GPT-2 with its position embeddings zeroed (so layer 0, the embedding
output, is the token's embedding row alone) and the rows of three tokens zeroed, as
``nn.Embedding(padding_idx=...)`` zeroes a padding row, saved as a model folder:
``' the'`` (common in the STS 2012-2016 sentences, so the CWE sample draws it),
``'gem'`` (the last subtoken of the word *gem* alone, an RG65 word) and ``' Newcastle'``
(the last token of one STS-B test sentence). Every expected number is computed here from
the states with numpy and scipy, not by the functions under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from layerwise import data
from layerwise.cli import main
from layerwise.measure import ablations, multi, multi_paired
from layerwise.measure.common import MeasureOptions
from layerwise.measure.cwe import cwe_sample, cwe_sentences, cwe_states
from layerwise.measure.sentences import (
    sentence_self_similarity,
    sentence_states,
    sts_benchmark_scores,
    sts_pair_cosines,
)
from layerwise.measure.words import all_task_words, word_states, word_task_scores
from layerwise.pipeline.tables import compute_table
from layerwise.store.cache import Cache

ZEROED = (" the", "gem", " Newcastle")
NAME = "zeroed-gpt2"
NEWCASTLE = "Funeral of MH17 victim Liam Sweeney takes place in Newcastle"


@pytest.fixture(scope="module")
def zeroed(tmp_path_factory):
    """(model, folder, zeroed token ids): the model folder described above, loaded."""
    import torch

    from layerwise.models import load_model

    torch.set_num_threads(1)
    base = load_model("tiny:gpt2", device="cpu")  # a fresh copy; the session's is untouched
    ids = [base.tokens(t)[0] for t in ZEROED]
    assert all(len(base.tokens(t)) == 1 for t in ZEROED)
    with torch.no_grad():
        base.model.wte.weight[ids] = 0.0
        base.model.wpe.weight.zero_()
    folder = tmp_path_factory.mktemp("models") / NAME
    base.model.save_pretrained(folder)
    base.tokenizer.save_pretrained(folder)
    lm = load_model(str(folder), device="cpu")
    assert lm.spec.name == NAME
    return lm, folder, ids


@pytest.fixture(scope="module")
def options(tmp_path_factory):
    cache = Cache(tmp_path_factory.mktemp("zero-cache"))
    return MeasureOptions(n_cwe=60, n_resamples=20, cache=cache, progress=False)


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosines [n, L] of [n, L, d] states in float64 (identical rows: exactly 1)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore"):
        cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    cos[(a == b).all(-1) & np.isfinite(cos)] = 1.0
    return cos


def _self_similarity(x: np.ndarray) -> float:
    """Mean off-diagonal cosine of [n, d] states, the O(n^2) way."""
    u = x.astype(np.float64) / np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    cos = u @ u.T
    return float(cos[~np.eye(len(u), dtype=bool)].mean())


def _zero_where(states: np.ndarray, rows: np.ndarray) -> None:
    """The states are exactly zero at layer 0 of ``rows`` and nowhere else."""
    zero = ~(states != 0).any(axis=-1)  # [n, L+1]
    expected = np.zeros(zero.shape, dtype=bool)
    expected[rows, 0] = True
    np.testing.assert_array_equal(zero, expected)


def _undefined_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["value"].isna()]


def test_word_tasks_go_on_with_nan_where_the_zero_vector_is(zeroed, options):
    """Chapter 4's word tasks on a model whose word *gem* is a zero vector at layer 0: the
    run goes on; at layer 0 of the ``wrapped`` setting each task with a pair holding *gem*
    is undefined (NaN, no interval, ``n`` all its pairs: none is dropped) and its ``note``
    names the model, the layer, the token and the word and counts the pairs; every other
    score is scipy's Spearman of numpy cosines (ValNorm: Pearson of SC-WEAT effect sizes
    computed here). The ``eos`` setting reads the closing token, the same vector for every
    word at layer 0 of this model (no position embeddings), so its layer 0 is undefined as
    it always was (constant cosines), with no note: notes are for zero vectors. Before
    issue 24 the call raised ``InputError: x row ... is a zero vector``,
    naming no model, layer or word."""
    lm, _, ids = zeroed
    words = all_task_words()
    gem = words.index("gem")
    with pytest.warns(RuntimeWarning, match=f"model '{NAME}', layer 0"):
        df = word_task_scores(lm, ("wrapped", "eos"), options)
    wrapped = word_states(lm, words, ("wrapped",), options)["wrapped"].states
    _zero_where(wrapped, np.array([gem]))
    assert lm.tokens("gem")[-1] == ids[1]
    row = {w: i for i, w in enumerate(words)}
    native = df[df["top"] == "native"]
    undefined = _undefined_rows(df)
    expected_undefined = set()
    for task in data.word_similarity_tasks():
        pairs = data.load_word_pairs(task)
        a = wrapped[[row[p.word1] for p in pairs]]
        b = wrapped[[row[p.word2] for p in pairs]]
        human = np.array([p.score for p in pairs])
        holding = sum("gem" in (p.word1, p.word2) for p in pairs)
        cos = _cosines(a, b)
        got = native[(native["task"] == task) & (native["setting"] == "wrapped")]
        got = got.sort_values("layer")
        for layer in range(lm.spec.n_layers + 1):
            r = got.iloc[layer]
            if holding and layer == 0:
                expected_undefined.add((task, 0))
                assert np.isnan([r["value"], r["low"], r["high"]]).all()
                assert r["n"] == len(pairs)
                note = r["note"]
                for part in (
                    f"model '{NAME}', layer 0",
                    f"token 'gem' (id {ids[1]}, position 1) of 'gem'",
                    "1 of the 2,255 words is a zero vector",
                    f"so {holding:,} of the {len(pairs):,} pairs",
                    "Spearman's rho",
                    "none is dropped",
                ):
                    assert part in note
            else:
                want = stats.spearmanr(cos[:, layer], human).statistic
                assert r["value"] == pytest.approx(want, abs=1e-9)
                assert not (isinstance(r["note"], str) and r["note"])  # "" or missing
    assert ("rg65", 0) in expected_undefined
    wrapped_nan = undefined[undefined["setting"] == "wrapped"]
    assert set(zip(wrapped_nan["task"], wrapped_nan["layer"], strict=True)) == expected_undefined
    assert (undefined["top"] == "native").all() and (undefined["layer"] == 0).all()
    eos = undefined[undefined["setting"] == "eos"]
    assert len(eos) == len(df["task"].unique()) and eos["note"].fillna("").eq("").all()
    assert df["note"].fillna("").ne("").sum() == len(wrapped_nan)
    # ValNorm holds no "gem": defined at every layer, Pearson of effect sizes computed here
    lex = data.load_valnorm()
    t = wrapped[[row[w.word] for w in lex]].astype(np.float64)
    attr = {
        k: wrapped[[row[w] for w in v]] for k, v in (("a", data.PLEASANT), ("b", data.UNPLEASANT))
    }
    val = native[(native["task"] == "valnorm") & (native["setting"] == "wrapped")]
    for layer, r in enumerate(val.sort_values("layer").itertuples()):
        unit = lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True)  # noqa: E731
        ca = unit(t[:, layer]) @ unit(attr["a"][:, layer].astype(np.float64)).T
        cb = unit(t[:, layer]) @ unit(attr["b"][:, layer].astype(np.float64)).T
        effect = (ca.mean(1) - cb.mean(1)) / np.concatenate([ca, cb], 1).std(1, ddof=1)
        want = stats.pearsonr(effect, [w.valence for w in lex]).statistic
        assert r.value == pytest.approx(want, abs=1e-9)


def test_cwe_geometry_names_the_sampled_zero_tokens(zeroed, options):
    """Chapter 3's CWE geometry table (``reproduce``'s) when the sample draws ``' the'``, a
    zero vector at layer 0: self-similarity and the paper's top-k shares are NaN at layer 0
    only (a mean over all sampled vectors needs each one), with a note naming the model,
    the layer, how many of the sampled tokens are zero and which (token, id, position,
    sentence); the script's ratio of means stays defined there (a zero row adds 0 to both
    means) and equals the formula computed here; every other value equals numpy's. Before
    issue 24 the whole table raised InputError."""
    lm, _, ids = zeroed
    sentences = cwe_sentences([lm], options)
    ex = cwe_states(lm, sentences, options)
    x = ex.states
    requests, sample = cwe_sample(lm, sentences, options)
    read = np.array([r.ids[a] for r in requests for a, _ in r.reads])
    the = np.flatnonzero(read == ids[0])
    assert the.size >= 2
    _zero_where(x, the)
    with pytest.warns(RuntimeWarning, match="sampled tokens are zero vectors"):
        df = compute_table("cwe_geometry", {"causal": lm}, options)  # as reproduce does
    native = df[df["top"] == "native"]
    assert set(zip(*[_undefined_rows(df)[c] for c in ("measure", "layer")], strict=True)) == {
        ("self_similarity", 0),
        ("top5_share", 0),
        ("top8_share", 0),
    }
    note = native[(native["measure"] == "self_similarity") & (native["layer"] == 0)]["note"]
    note = note.iloc[0]
    first = sentences[int(sample.sentence[the[0]])]
    opening = repr(first[:20])[:-1]  # the sentence's start, as the note quotes it
    position = int(sample.position[the[0]])
    for part in (
        f"model '{NAME}', layer 0: {the.size} of the 60 sampled tokens are zero vectors",
        f"token 'Ġthe' (id {ids[0]}, position {position}) of {opening}",
        "so is the mean cosine over all pairs (Eq. 1)",
    ):
        assert part in note
    assert df["note"].fillna("").ne("").sum() == 3
    for layer in range(lm.spec.n_layers + 1):
        at = native[native["layer"] == layer].set_index("measure")["value"]
        xl = x[:, layer].astype(np.float64)
        norms = np.linalg.norm(xl, axis=1)
        top5 = -np.sort(-xl, axis=1)[:, :5]
        script = np.linalg.norm(top5, axis=1).mean() / norms.mean()
        assert at["top5_share_script"] == pytest.approx(script, rel=1e-12)
        if layer:
            assert at["self_similarity"] == pytest.approx(_self_similarity(xl), abs=1e-9)
            big = -np.sort(-(xl * xl), axis=1)[:, :8].sum(1)
            assert at["top8_share"] == pytest.approx(np.mean(np.sqrt(big) / norms), rel=1e-12)


def test_sentences_go_on_with_the_pair_of_a_zero_sentence_vector_undefined(zeroed, options):
    """Chapter 5 on the model whose ``' Newcastle'`` is a zero vector at layer 0: in the
    ``last`` setting (each sentence read at its last token) one STS-B sentence's vector is
    zero there, so its one pair's cosine is undefined, the Spearman over all 1,379 pairs at
    layer 0 is NaN (n stays 1,379) and the self-similarity of the sentences at layer 0 is
    NaN, each with a note naming the model, the layer, the token and the sentence; the
    per-pair table leaves that pair's cosine and rank gap undefined with a note and ranks
    the others among themselves; everything else equals scipy and numpy computed here
    (the ``eos`` setting's layer 0 is undefined as it always was, every sentence's EOS
    vector being the same there, and has no note).
    Before issue 24 each call raised InputError."""
    lm, _, ids = zeroed
    pairs = data.load_sts_benchmark()
    sentences = data.sts_benchmark_sentences(pairs)
    index = {t: i for i, t in enumerate(sentences)}
    newcastle = index[NEWCASTLE]
    x = sentence_states(lm, sentences, "last", options).states
    _zero_where(x, np.array([newcastle]))
    with pytest.warns(RuntimeWarning, match=f"model '{NAME}', layer 0"):
        sts = sts_benchmark_scores(lm, ("last", "eos"), options)
        ss = sentence_self_similarity(lm, ("last",), options)
    gold = np.array([p.score for p in pairs])
    cos = _cosines(x[[index[p.sentence1] for p in pairs]], x[[index[p.sentence2] for p in pairs]])
    holding = np.array([NEWCASTLE in (p.sentence1, p.sentence2) for p in pairs])
    assert holding.sum() == 1 and np.isnan(cos[holding, 0]).all()
    assert np.isfinite(np.delete(cos, np.flatnonzero(holding), axis=0)).all()
    name = f"token 'ĠNewcastle' (id {ids[2]}, position"
    for table, what in (
        (sts, "so 1 of the 1,379 pairs is undefined, and Spearman's rho over all 1,379 pairs"),
        (ss, "so is the mean cosine over all pairs (Eq. 1)"),
    ):
        undefined = _undefined_rows(table)
        constant = undefined["setting"] == "eos"  # the same EOS vector for every sentence
        assert (undefined[constant]["layer"] == 0).all()
        assert undefined[constant]["note"].fillna("").eq("").all()
        undefined = undefined[~constant]
        assert list(zip(undefined["setting"], undefined["layer"], strict=True)) == [("last", 0)]
        assert table["note"].fillna("").ne("").sum() == 1
        note = undefined["note"].iloc[0]
        for part in (f"model '{NAME}', layer 0", "1 of the 2,552 sentences", name, what):
            assert part in note
        assert repr(NEWCASTLE)[:40] in note
    assert (undefined["n"] == len(sentences)).all()
    assert sts[(sts["setting"] == "last") & (sts["layer"] == 0)]["n"].iloc[0] == 1379
    last = sts[(sts["setting"] == "last") & (sts["top"] == "native")].sort_values("layer")
    for layer in range(1, lm.spec.n_layers + 1):
        want = stats.spearmanr(cos[:, layer], gold).statistic
        assert last["value"].iloc[layer] == pytest.approx(want, abs=1e-9)
    per_pair = sts_pair_cosines(lm, "last", options, layer=0)
    assert per_pair["cosine"].isna().tolist() == holding.tolist()
    assert per_pair["rank_gap"].isna().tolist() == holding.tolist()
    assert per_pair["note"].fillna("").ne("").tolist() == holding.tolist()
    assert "it has no rank gap (the other 1,378 pairs" in per_pair["note"][holding].iloc[0]
    np.testing.assert_allclose(per_pair["cosine"][~holding], cos[~holding, 0], atol=1e-12)
    kept = pd.DataFrame({"gold": gold[~holding], "cos": cos[~holding, 0]})
    gap = kept["gold"].rank(pct=True) - kept["cos"].rank(pct=True)
    np.testing.assert_allclose(per_pair["rank_gap"][~holding], gap, atol=1e-12)


def test_token_sampling_deviation_keeps_its_row_with_a_note(zeroed, options):
    """Chapter 6's token-sampling deviation reads the CWE self-similarity at layer 0: there
    both samples draw a zero ``' the'``, so both values are NaN and the row's note names
    the zero tokens (once: for GPT-2 the two samples are the same); the middle and top
    layers equal numpy's. Before issue 24 the deviation table raised InputError."""
    lm, _, _ = zeroed
    sentences = cwe_sentences([lm], options)
    with pytest.warns(RuntimeWarning):
        rows = ablations.token_sampling({"causal": lm}, sentences, options)
    assert [r["quantity"] for r in rows][0] == "CWE self-similarity, layer 0"
    assert np.isnan([rows[0]["default"], rows[0]["alternative"]]).all()
    # GPT-2's tokenizer adds no special tokens: both samples are one, and so is the note
    assert rows[0]["note"].count(f"model '{NAME}', layer 0") == 1
    assert "'Ġthe'" in rows[0]["note"]
    for row, layer in zip(rows[1:], (lm.spec.n_layers // 2, lm.spec.n_layers), strict=True):
        assert "note" not in row
        x = cwe_states(lm, sentences, options).states[:, layer]
        assert row["default"] == pytest.approx(_self_similarity(x), abs=1e-9)


def test_compare_goes_on_and_its_tables_name_the_zero_vectors(zeroed, options, tmp_path):
    """``python -m layerwise compare`` on the zeroed model and tiny GPT-2 finishes (exit 0)
    and writes the four tables; the zeroed model's CWE sample makes its layer-0 uniformity,
    self-similarity and rogue-dimension values undefined (IsoScore needs no direction and
    stays defined), and its raw (not postprocessed) layer-0 word tasks holding *gem* and
    CWE self-similarity too; each of these rows has a note naming the model, layer 0 and
    the token, and no other row has one (its EOS sentence vectors at layer 0 are one
    vector, undefined as before, without a note); tiny GPT-2's rows and the paired table have
    no NaN from it. Before issue 24 the command stopped with ``InputError: x row ... is a
    zero vector``."""
    _, folder, _ = zeroed
    out = tmp_path / "out"
    argv = ["compare", str(folder), "tiny:gpt2", "--scale", "reduced", "--n-cwe", "60"]
    # the module's cache: the zeroed model's states are those the tests above measured
    argv += ["--n-resamples", "20", "--device", "cpu", "--cache-dir", str(options.cache.root)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert main([*argv, "--out", str(out)]) == 0
    iso = pd.read_csv(out / "isotropy.csv")
    rogue = pd.read_csv(out / "rogue_dimensions.csv")
    post = pd.read_csv(out / "postprocessing.csv")
    paired = pd.read_csv(out / "paired_differences.csv")
    for table in (iso, rogue, post):
        undefined = table[table["value"].isna()]
        assert (undefined["model"] == NAME).all() and (undefined["layer"] == 0).all()
        # the EOS read is one vector for every sentence at layer 0 here (no position
        # embeddings): undefined as it always was (constant), and not a zero vector
        constant = pd.Series(False, index=undefined.index)
        for column, eos in (("sample", "sentences eos"), ("setting", "eos")):
            if column in undefined:
                constant |= undefined[column] == eos
        assert undefined[constant]["note"].fillna("").eq("").all()
        undefined = undefined[~constant]
        assert table["note"].fillna("").ne("").sum() == len(undefined)
        for note in undefined["note"]:
            assert f"undefined (NaN): model '{NAME}', layer 0: " in note
            assert "'Ġthe'" in note or "'gem'" in note
    noted = iso[iso["note"].fillna("").ne("")]
    assert set(zip(noted["sample"], noted["measure"], strict=True)) == {
        ("cwe", "uniformity"),
        ("cwe", "self_similarity"),
    }
    assert len(rogue[rogue["value"].isna()]) == 5  # every rogue measure of layer 0
    noted = post[post["note"].fillna("").ne("")]
    assert set(noted["method"]) == {"raw"}  # a centred zero vector is no longer zero
    assert {"cwe_self_similarity", "rg65"} <= set(noted["task"])
    assert "stsb" not in set(noted["task"])
    assert paired["difference"].notna().all() and "note" not in paired


def test_paired_rows_carry_the_note_of_an_undefined_score(monkeypatch):
    """A paired row whose chosen layer's score is undefined has no difference and carries
    the note that model's :func:`paired_values` gave for that task and layer; "best" picks
    a defined layer and needs no note. Before issue 24 paired_rows took no notes (a
    TypeError here), so such a row said nothing about why it was empty."""
    rng = np.random.default_rng(24)
    n = len(data.load_word_pairs("rg65"))
    tasks = ["rg65"]
    values = []
    for name in ("A", "B"):
        v = {t: rng.normal(size=(n, 3)) for t in tasks}
        values.append((name, {"raw": v}))
    values[0][1]["raw"]["rg65"][5, 2] = np.nan  # A's top layer holds an undefined pair
    note = "undefined (NaN): model 'A', layer 2: ..."
    notes = [{"raw": {"rg65": ["", "", note]}}, {}]
    s = MeasureOptions(n_resamples=10, cache=None, progress=False)
    monkeypatch.setattr(multi_paired, "_paired_tasks", lambda setting: [("rg65", "wrapped")])
    table = multi_paired.paired_rows(values, s, methods=("raw",), notes=notes)
    top = table[table["choice"] == "top"].iloc[0]
    best = table[table["choice"] == "best"].iloc[0]
    assert np.isnan(top["score_a"]) and np.isnan(top["difference"]) and top["note"] == note
    assert np.isfinite(best["difference"]) and not isinstance(best["note"], str)
    assert list(table.columns) == [*multi.PAIRED_COLUMNS, "note"]
