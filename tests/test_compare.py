"""Tests for layerwise.paired and layerwise.compare (chapter 7, ``compare`` command)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from layerwise import compare, models
from layerwise.cli import main
from layerwise.errors import InputError
from layerwise.paired import paired_difference


def test_paired_ci_of_identical_models_is_zero():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=80), rng.normal(size=80)
    d = paired_difference(x, x.copy(), y, rng=1, n_resamples=200)
    assert (d.value, d.low, d.high, d.n) == (0.0, 0.0, 0.0, 80)


def test_paired_ci_by_hand_for_perfect_and_reversed_models():
    y = np.arange(30.0)
    d = paired_difference(y**3, -y, y, rng=0, n_resamples=100)  # rho = 1 and -1 on every resample
    assert (d.value, d.low, d.high) == pytest.approx((2.0, 2.0, 2.0))
    p = paired_difference(2 * y, -y, y, method="pearson", rng=0, n_resamples=100)
    assert (p.value, p.low, p.high) == pytest.approx((2.0, 2.0, 2.0))


def test_paired_ci_covers_a_real_difference_and_is_reproducible():
    rng = np.random.default_rng(3)
    y = rng.normal(size=300)
    good, poor = y + 0.5 * rng.normal(size=300), y + 2.0 * rng.normal(size=300)
    d = paired_difference(good, poor, y, rng=5, n_resamples=300)
    assert d.low < d.value < d.high and d.low > 0
    assert d == paired_difference(good, poor, y, rng=5, n_resamples=300)


def test_paired_bad_input():
    with pytest.raises(InputError):
        paired_difference(np.ones(3), np.ones(4), np.arange(3.0), rng=0)
    with pytest.raises(InputError):
        paired_difference(np.ones(3), np.ones(3), np.arange(3.0), method="kendall", rng=0)


def test_verdict_reads_the_interval():
    row = {"model_a": "A", "model_b": "B", "low": 0.1, "high": 0.3}
    assert compare.verdict(pd.Series(row)) == "A > B"
    assert compare.verdict(pd.Series(row | {"low": -0.3, "high": -0.1})) == "A < B"
    assert "no clear" in compare.verdict(pd.Series(row | {"low": -0.1}))
    assert compare.verdict(pd.Series(row | {"low": np.nan})) == "undefined"


def test_tiny_bert_is_an_encoder_with_cls_sep_and_no_final_norm():
    lm = models.load_model("tiny:bert", device="cpu")
    tok = lm.tokenizer.convert_ids_to_tokens
    assert (tok(lm.spec.open_id), tok(lm.spec.close_id)) == ("[CLS]", "[SEP]")
    assert lm.spec.native_wrap and lm.spec.top_state == "no_final_norm"
    # the real uncased WordPiece vocabulary, not a stub that maps every word to [UNK]
    assert len(lm.tokenizer) == 30522
    assert tok(lm.tokens("Cats purr loudly")) == ["cats", "pu", "##rr", "loudly"]
    assert (lm.spec.n_layers, lm.spec.hidden_size, lm.spec.max_length) == (4, 64, 512)
    assert models.PROFILE_EXTRAS["tiny"] == ("tiny:bert",)


def test_extras_skip_unreachable_hub_models_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    use, notes = compare.available_extras("paper")
    cached = [s for s in models.PROFILE_EXTRAS["paper"] if models._hub_cached(s)]
    assert use == cached and len(notes) == 3 - len(cached)
    assert compare.available_extras("tiny") == (["tiny:bert"], [])
    assert compare.available_extras("offline") == ([], [])


def test_compare_cli_writes_tidy_tables_for_three_models(tmp_path):
    out = tmp_path / "out"
    argv = [
        "compare",
        "tiny:gpt2",
        "tiny:clip",
        "tiny:bert",
        "--scale",
        "reduced",
        "--n-cwe",
        "120",
        "--n-resamples",
        "20",
        "--device",
        "cpu",
        "--cache-dir",
        str(tmp_path / "cache"),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    names = {"tiny GPT-2 (random)", "tiny CLIP (random)", "tiny BERT (random)"}
    iso = pd.read_csv(out / "isotropy.csv")
    assert set(iso["model"]) == names
    # 5 layers each; per sample: isoscore, uniformity, self-similarity (+ alignment for sentences)
    assert len(iso) == 3 * 5 * (3 + 2 * 4)
    cwe = iso[iso["sample"] == "cwe"]
    assert (cwe["n"] == 120).all()
    assert cwe.query("measure == 'isoscore'")["value"].between(0, 1).all()
    assert cwe.query("measure == 'uniformity'")["value"].between(-4, 0).all()
    rogue = pd.read_csv(out / "rogue_dimensions.csv")
    assert set(rogue["measure"]) == {
        "expected_cosine",
        "top1_share",
        "top3_share",
        "top10_share",
        "top_dimension",
    }
    assert len(rogue) == 3 * 5 * 5
    post = pd.read_csv(out / "postprocessing.csv")
    assert set(post["method"]) == {"raw", "centered", "standardized", "abtt"}
    # per model and method: CWE self-similarity + 5 word tasks + 2 STS settings, 5 layers each
    assert len(post) == 3 * 4 * 8 * 5
    scored = post[post["task"] != "cwe_self_similarity"].dropna(subset=["value"])
    assert ((scored["low"] <= scored["value"]) & (scored["value"] <= scored["high"])).all()
    paired = pd.read_csv(out / "paired_differences.csv")
    # 3 pairs of models x 2 methods x 6 tasks x 2 layer choices
    assert len(paired) == 3 * 2 * 6 * 2
    ok = paired.dropna(subset=["difference"])
    np.testing.assert_allclose(ok["difference"], ok["score_a"] - ok["score_b"], atol=1e-9)
    prov = json.loads((out / "provenance.json").read_text())
    assert set(prov) == set(compare.TABLES)
    assert prov["isotropy"]["parameters"]["sources"] == ["tiny:gpt2", "tiny:clip", "tiny:bert"]


def test_compare_raw_matches_chapter_four_scores(tmp_path, tiny_gpt2):
    """The raw postprocessing row is the word-task score of chapter 4 (same states, seeds)."""
    from layerwise.cache import Cache
    from layerwise.experiments import Settings, word_task_scores

    s = Settings(n_cwe=60, n_resamples=20, cache=Cache(tmp_path))
    states = compare.load_states([tiny_gpt2], s)
    post = compare.postprocessing_table(states, s, methods=("raw",))
    ch4 = word_task_scores(tiny_gpt2, ("wrapped",), s, tasks=("rg65",))
    mine = post[post["task"] == "rg65"].sort_values("layer")
    theirs = ch4[ch4["top"] == "native"].sort_values("layer")
    np.testing.assert_allclose(mine["value"], theirs["value"])
    np.testing.assert_allclose(mine["low"], theirs["low"])


def test_compare_rejects_duplicate_and_empty_sources(tmp_path):
    from layerwise.runs import RunConfig

    cfg = RunConfig(profile="tiny", scale="reduced")
    with pytest.raises(InputError):
        compare.run_compare([], cfg, tmp_path)
    with pytest.raises(InputError, match="twice"):
        compare.run_compare(["tiny:gpt2", "tiny:gpt2"], cfg, tmp_path)


def test_compare_tables_warm_loads_no_states(tmp_path, tiny_gpt2, tiny_clip, monkeypatch):
    from layerwise.cache import Cache
    from layerwise.experiments import Settings

    s = Settings(n_cwe=60, n_resamples=20, cache=Cache(tmp_path), progress=False)
    cold = compare.compare_tables([tiny_gpt2, tiny_clip], s)
    assert set(cold) == set(compare.TABLES)

    def no_states(*args, **kwargs):
        raise AssertionError("a warm run must not load states")

    monkeypatch.setattr(compare, "load_states", no_states)
    warm = compare.compare_tables([tiny_gpt2, tiny_clip], s)
    for name in compare.TABLES:
        pd.testing.assert_frame_equal(warm[name], cold[name], check_dtype=False)
    with pytest.raises(AssertionError, match="must not load states"):
        compare.compare_tables([tiny_clip, tiny_gpt2], s)  # another model order: a miss
