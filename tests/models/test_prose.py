"""The text the chapters state (``layerwise.report.prose``), checked on small tables built
by hand whose right answers are known: verdicts on both sides of the paper's thresholds,
numbers formatted as the paper prints them, counts and empty cases."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from layerwise.data import Sentence, filter_to_window, reference
from layerwise.report import prose
from layerwise.report.prose import extraction, word_tasks

SHARES = ("top5_share", "top8_share", "top5_share_script", "top8_share_script")


def _model(name: str, top_state: str = "post_norm") -> SimpleNamespace:
    return SimpleNamespace(spec=SimpleNamespace(name=name, top_state=top_state))


MODELS = {"contrastive": _model("C", "pre_norm"), "causal": _model("G")}
CACHE = SimpleNamespace(hits=5, misses=2, rejected=[])


def _rows(role: str, values, **cols) -> list[dict]:
    model = MODELS[role].spec.name
    return [
        {"role": role, "model": model, "layer": layer, "top": "native", "value": v, **cols}
        for layer, v in enumerate(values)
    ]


# ------------------------------------------------------------------ chapter 3
def _geo(c_ss, g_ss, *, c5=0.30, g5=0.98, c8=0.31, g8=0.99) -> pd.DataFrame:
    """``cwe_geometry`` with self-similarity per layer and constant top-k shares, except the
    top-8 share at the top layer (``c8``, ``g8``)."""
    rows = _rows("contrastive", c_ss, measure="self_similarity")
    rows += _rows("causal", g_ss, measure="self_similarity")
    for role, k5, k8, n in (("contrastive", c5, c8, len(c_ss)), ("causal", g5, g8, len(g_ss))):
        top8 = [k5 + 0.005] * (n - 1) + [k8]
        for measure, values in (
            ("top5_share", [k5] * n),
            ("top8_share", top8),
            ("top5_share_script", [k5 / 2] * n),
            ("top8_share_script", [k8 / 2] * n),
        ):
            rows += _rows(role, values, measure=measure)
    return pd.DataFrame(rows)


def _sent(ce, ge, n: int = 2552) -> pd.DataFrame:
    rows = _rows("contrastive", ce, setting="eos", n=n) + _rows("causal", ge, setting="eos", n=n)
    return pd.DataFrame(rows)


def _chapter3(geo, sent=None, conventions=None, left_diff=None) -> dict[str, str]:
    return prose.chapter3(
        models=MODELS,
        compare_note="A note.",
        n_cwe=10_000,
        geo=geo,
        geo_path="results/x/cwe_geometry.csv",
        conventions=pd.DataFrame() if conventions is None else conventions,
        sent=_sent([0.98, 0.50, 0.25], [0.97, 0.99, 0.98]) if sent is None else sent,
        left=pd.DataFrame({"n": [1379, 1379]}),
        left_diff=pd.Series({"C": 0.01, "G": 0.005}) if left_diff is None else left_diff,
        cache=CACHE,
    )


def test_chapter3_under_25_claim_on_both_sides_of_the_paper_bound():
    high = _chapter3(_geo([0.20, 0.10, 0.30], [0.60, 0.70, 0.96]))
    assert high["ss_c_under25"] == "does not hold"  # max .30
    assert high["ss_c_range"] == ".10 (layer 1) to .30 (layer 2)"
    assert high["ss_c_top"] == ".30"
    low = _chapter3(_geo([0.20, 0.10, 0.15], [0.60, 0.70, 0.96]))
    assert low["ss_c_under25"] == "holds"  # max .20
    assert low["ss_c_range"] == ".10 (layer 1) to .20 (layer 0)"


def test_chapter3_figure1_statements_by_hand():
    t = _chapter3(_geo([0.16, 0.10, 0.061, 0.20], [0.66, 0.54, 0.60, 0.955]))
    assert t["ss_c_min06"] == "does not hold"  # .06 but at layer 2, not the paper's 4
    assert t["ss_c_depth"] == ".67"  # layer 2 of 3
    assert t["ss_g_over55"] == "does not hold"  # .54 < .55
    assert t["ss_g_top96"] == "holds"  # .955 rounds to .96 (banker's rounding is not used)
    assert t["ss_separated"] == "holds"  # .20 < .54
    assert t["ss_g_range"] == ".54 (layer 1) to .95 (layer 3)"
    assert t["ss_c_name"] == "C" and t["ss_g_name"] == "G"
    at4 = _chapter3(_geo([0.16, 0.12, 0.10, 0.08, 0.06], [0.6] * 5))
    assert at4["ss_c_min06"] == "holds"
    assert at4["ss_separated"] == "holds"
    overlap = _chapter3(_geo([0.2, 0.7], [0.6, 0.9]))
    assert overlap["ss_separated"] == "does not hold"


def test_chapter3_top_k_shares_and_the_3_point_gap():
    t = _chapter3(_geo([0.2, 0.1], [0.6, 0.9], c5=0.30, g5=0.98, c8=0.34, g8=0.99))
    assert t["t5_g"] == ".98" and t["t5_c"] == ".30"
    assert t["t5_g_script"] == ".49" and t["t5_c_script"] == ".15"
    assert t["t5_g_holds"] == "holds"  # .98 > .97
    assert t["t5_direction"] == "holds"
    # the largest top-8 minus top-5 gap: 4.0 points for C at its top layer
    assert t["gap_text"] == "G: 1.0 points (layer 1); C: 4.0 points (layer 1)"
    assert t["gap_holds"] == "does not hold"  # 4 points >= 3
    small = _chapter3(_geo([0.2, 0.1], [0.6, 0.9], g5=0.90, g8=0.91, c8=0.32))
    assert small["gap_holds"] == "holds"  # 2 points
    assert small["t5_g_holds"] == "does not hold"  # .90


def test_top_shares_reads_the_paper_from_the_reference():
    shares = prose.top_shares(_geo([0.2, 0.1], [0.6, 0.9], c5=0.30, g5=0.98))
    assert list(shares.columns) == [*SHARES, "paper top5", "top5 - paper"]
    paper = shares["paper top5"].droplevel("model")
    assert paper["causal"] == reference.claim("top5_causal_top").paper
    assert paper["contrastive"] == reference.claim("top5_contrastive_top").paper
    diff = shares["top5 - paper"].droplevel("model")
    assert diff["contrastive"] == pytest.approx(0.30 - 0.39)


def test_chapter3_sentences_conventions_and_the_left_sentences():
    t = _chapter3(_geo([0.2, 0.1], [0.6, 0.9]))
    assert t["n_sentences"] == "2,552" and t["n_left"] == "1,379" and t["n_cwe"] == "10,000"
    assert (t["ce_first"], t["ce_top"]) == (".98", ".25")
    assert t["ce_falls"] == "holds" and t["ce_lower"] == "holds"
    assert t["ge_min"] == ".97 (layer 0)"
    assert t["ge_97"] == "holds"  # at least .97
    assert t["sent_separated"] == "holds"
    assert t["left_diff"] == "C: .010; G: .005"
    assert t["left_verdict"] == "matters little here"
    assert t["norm_text"].startswith("No model of this run has a final layer norm")
    assert t["norm_models"] == (
        "C: its native top layer is before the final layer norm; "
        "G: its native top layer is after the final layer norm."
    )
    assert t["cache_session"] == "5 read from the cache, 2 computed"
    assert t["compare_note"] == "A note." and t["geo_path"] == "results/x/cwe_geometry.csv"

    rises = _sent([0.98, 0.99, 0.30], [0.96, 0.99, 0.98])
    conv = pd.DataFrame(
        {"native": ["pre_norm"], "post_norm": [0.5], "pre_norm": [0.2], "post - pre": [0.3]},
        index=pd.MultiIndex.from_tuples([("C", "self_similarity")], names=["model", "measure"]),
    )
    t = _chapter3(_geo([0.2, 0.1], [0.6, 0.9]), rises, conv, pd.Series({"C": 0.03}))
    assert t["ce_falls"] == "does not hold" and t["ce_lower"] == "holds"
    assert t["ge_97"] == "does not hold"  # .96
    assert t["norm_text"] == "C: .20 before the final norm, .50 after."
    assert t["left_verdict"] == "matters here"


# ------------------------------------------------------------------ chapter 5
def _sts(causal_best: float, *, nan_at: int | None = None) -> pd.DataFrame:
    rows = []
    values = {
        ("contrastive", "eos"): [0.10, 0.50, 0.73],
        ("contrastive", "last"): [0.10, 0.20, 0.30],
        ("contrastive", "mean"): [0.30, 0.40, 0.50],
        ("causal", "eos"): [0.05, causal_best, 0.20],
        ("causal", "last"): [0.05, 0.10, 0.15],
        ("causal", "mean"): [0.20, 0.25, 0.30],
    }
    for (role, setting), v in values.items():
        if nan_at is not None and (role, setting) == ("causal", "eos"):
            v = [np.nan if layer == nan_at else x for layer, x in enumerate(v)]
        for r in _rows(role, v, setting=setting, task="stsb", n=1379):
            rows.append(r | {"low": r["value"] - 0.03, "high": r["value"] + 0.03})
    return pd.DataFrame(rows)


def _chapter5(sts, published=None, gaps=None, conv=None) -> dict[str, str]:
    empty = pd.DataFrame(columns=["reproduced (top layer)", "published", "difference"])
    gap = pd.DataFrame({"relative_depth": [0.0, 0.5, 1.0], "gap": [0.10, -0.04, 0.20]})
    return prose.chapter5(
        n_resamples=1000,
        sts=sts,
        published=empty if published is None else published,
        gaps={"eos": gap, "last": gap} if gaps is None else gaps,
        conv=pd.DataFrame(columns=["difference"]) if conv is None else conv,
    )


def test_chapter5_gpt2_bound_on_both_sides_of_45():
    under = _chapter5(_sts(0.40))
    assert under["causal_max"] == ".40"
    assert under["causal_max_holds"] == "holds"  # the paper: never above .45
    over = _chapter5(_sts(0.50))
    assert over["causal_max"] == ".50" and over["causal_max_holds"] == "does not hold"


def test_chapter5_cells_counts_and_undefined_layers():
    t = _chapter5(_sts(0.40, nan_at=0))
    assert t["contrastive_eos_top"] == ".73 [.70, .76]"
    assert t["contrastive_eos_best"] == ".73 [.70, .76] (2)"
    assert t["causal_mean_top"] == ".30 [.27, .33]"
    assert t["n_pairs"] == "1,379" and t["n_resamples"] == "1,000"
    assert t["undefined"] == "G, eos, layer 0"
    assert _chapter5(_sts(0.40))["undefined"] == "none"
    assert t["conv_max"] == "not applicable"
    conv = pd.DataFrame({"difference": [-0.5, 0.25]})
    assert _chapter5(_sts(0.40), conv=conv)["conv_max"] == "0.500"


def test_chapter5_gaps_and_the_outside_check():
    t = _chapter5(_sts(0.40))
    assert t["wins_eos"] == "2 of 3" and t["every_eos"] == "does not hold"
    assert t["gap_lower_eos"] == "+0.03" and t["gap_upper_eos"] == "+0.20"
    assert t["grows_last"] == "holds"
    assert t["native_check"].startswith("No model of this run has both its own pooling")
    published = pd.DataFrame(
        {"reproduced (top layer)": [0.81], "published": [0.82032], "difference": [-0.01032]},
        index=pd.Index(["M"], name="model"),
    )
    check = _chapter5(_sts(0.40), published=published)["native_check"]
    assert check == "M: 0.81000 reproduced, 0.82032 published, difference -0.01032."


# ------------------------------------------------------------------ chapter 6
def test_chapter6_counts_paired_verdicts_and_deviations():
    claims = pd.DataFrame(
        {"claim": ["a", "b", "c"], "direction_holds": pd.array([True, False, None], "boolean")}
    )
    paired = pd.DataFrame(
        {
            "model_a": "A",
            "model_b": "B",
            "method": "raw",
            "task": ["rg65", "ws353", "stsb", "rg65"],
            "choice": ["best", "best", "best", "top"],
            "low": [0.1, -0.3, -0.1, 0.05],
            "high": [0.3, -0.1, 0.1, 0.2],
        }
    )
    t1 = pd.DataFrame({"diff_best": [0.1, -0.3]})
    deviations = pd.DataFrame(
        {
            "deviation": ["1 top-k share", "5 ValNorm SD", "6 leading space"],
            "quantity": ["top-5 share, top layer", "ValNorm r, layer 3", "rg65"],
            "model": ["M", "M", "N"],
            "difference": [-0.4, 2e-16, 0.25],
        }
    )
    t = prose.chapter6(claims=claims, paired=paired, t1=t1, deviations=deviations)
    assert (t["n_claims"], t["n_held"], t["n_undefined"]) == ("3", "1", "1")
    assert t["paired_best"] == (
        "A is ahead on 1 of 3 tasks and B on 1 (95% paired interval excluding 0); "
        "on 1 the interval includes 0"
    )
    assert t["paired_top"].startswith("A is ahead on 1 of 1 tasks and B on 0")
    assert t["t1_mean_abs_diff"] == "0.20"
    assert t["dev_biggest"] == "1 top-k share (top-5 share, top layer, M: -0.400)"
    assert t["dev_valnorm_max"] == "2.0e-16"


# ------------------------------------------------------------------ chapters 1, 2 and 4
def test_chapter1_counts_and_the_window():
    sentences = [Sentence("a b", "x"), Sentence("a b c d e", "x"), Sentence("a", "y")]
    words = lambda text: len(text.split())  # noqa: E731
    counters = {"CLIP": (words, 3), "M": (lambda text: 2 * words(text), 4)}
    window = filter_to_window(sentences, counters)
    pairs = [
        SimpleNamespace(sentence1="s", sentence2="t"),
        SimpleNamespace(sentence1="t", sentence2="u"),
    ]
    t = prose.chapter1(
        checksums={"f1": "0", "f2": "1"},
        stsb=pairs,
        per_file=pd.Series({"2012/a": 1000, "2013/b": 234}),
        sentences=sentences,
        counters=counters,
        window=window,
    )
    assert t["n_files"] == "2"
    assert (t["n_stsb_pairs"], t["n_stsb_sentences"]) == ("2", "3")
    assert (t["n_sts_pairs"], t["n_sts_sentences"]) == ("1,234", "3")
    assert (t["n_kept_clip"], t["n_dropped_clip"]) == ("2", "1")  # CLIP's window alone
    assert t["n_kept_run"] == "2"
    assert t["window_summary"] == window.summary()


def test_chapter2_batching_verdict_on_both_sides_of_the_tolerance():
    def diffs(rel: float) -> pd.DataFrame:
        return pd.DataFrame(
            {"max abs": [3e-6], "max value": [1234.5], "max rel": [rel]}, index=["M"]
        )

    ok = extraction.batching_texts(diffs(1e-6))
    assert ok == {
        "batch_abs": "M: 3.0e-06",
        "batch_big": "M: 1,234.5",
        "batch_diffs": "M: 1.0e-06",
        "batch_ok": "holds",
    }
    assert extraction.batching_texts(diffs(2e-5))["batch_ok"] == "does NOT hold"


def test_chapter4_layer_of_the_papers_text_and_which_figure_is_closer():
    assert word_tasks.bos_text_layer(reference.PAPER_LAYERS) == reference.BOS_TEXT_LAYER
    assert word_tasks.bos_text_layer(24) == 14
    at = pd.DataFrame(
        {"bare": [0.55, 0.02], "wrapped": [0.70, 0.40]}, index=pd.Index(["valnorm", "rg65"])
    )
    t = word_tasks.bos_layer_texts(at, 7, 12)
    assert t["l7"] == "7 of 12" and t["l7_valnorm_bare"] == ".55" and t["l7_rg65_wrapped"] == ".40"
    assert t["l7_closer"] == "text's"  # .55 is nearer the text's .59 than Table 1's .43
    at.loc["valnorm", "bare"] = 0.45
    assert word_tasks.bos_layer_texts(at, 7, 12)["l7_closer"] == "table's"


def test_chapter4_claim_values_and_the_glove_reference():
    claims = pd.DataFrame(
        {
            "claim": [reference.claim(k).text for k in ("clip_beats_gpt2_words", "clip_rg65_best")],
            "reproduced": [4.0, 0.812],
            "paper": [None, 0.876],
            "direction_holds": pd.array([False, True], "boolean"),
        }
    )
    t = word_tasks.claim_texts(claims)
    assert t == {
        "holds_clip_beats_gpt2_words": "does not hold",
        "value_clip_beats_gpt2_words": "4",
        "holds_clip_rg65_best": "holds",
        "value_clip_rg65_best": ".81",
    }

    def bt(high: float) -> pd.DataFrame:
        rows = [
            ("contrastive", 0.85, 0.80, high, 4),
            ("causal", 0.70, 0.65, 0.75, 7),
        ]
        return pd.DataFrame(
            [
                {
                    "role": role,
                    "setting": "wrapped",
                    "task": "valnorm",
                    "best": best,
                    "best_low": low,
                    "best_high": hi,
                    "best_layer": layer,
                    "top": best - 0.1,
                    "top_low": np.nan,
                    "top_high": np.nan,
                }
                for role, best, low, hi, layer in rows
            ]
        )

    reach = word_tasks.figure3_texts(bt(0.90))
    assert reach["vn_sota"] == "reaches" and reach["vn_order"] == "holds"
    assert reach["vn_c_best"] == ".85 [.80, .90] (4)"
    assert reach["vn_c_paper_best"] == ".88 (layer 4)" and reach["vn_c_diff_best"] == "-0.03"
    assert word_tasks.figure3_texts(bt(0.87))["vn_sota"] == "falls short of"


def test_valnorm_ddof_feeds_chapter4_and_the_deviation_row(tmp_path, tiny_clip):
    """The SD convention rescales every effect size by sqrt(49/50) and leaves r unchanged;
    chapter 4's texts and chapter 6's row read the same table."""
    from layerwise.measure import ablations
    from layerwise.measure.common import MeasureOptions
    from layerwise.store.cache import Cache

    s = MeasureOptions(n_cwe=200, n_resamples=20, cache=Cache(tmp_path), progress=False)
    ddof = ablations.valnorm_ddof(tiny_clip, s)
    assert list(ddof["layer"]) == list(range(tiny_clip.spec.n_states))
    np.testing.assert_allclose(ddof["r_sample_sd"], ddof["r_population_sd"], atol=1e-12)
    assert ddof["ratio_deviation"].max() < 1e-12
    texts = word_tasks.ddof_texts(ddof)
    assert float(texts["ddof_r_diff"]) < 1e-12 and float(texts["ddof_ratio_dev"]) < 1e-12
    (row,) = ablations.valnorm_sd({"contrastive": tiny_clip}, s)
    best = int(ddof["r_sample_sd"].idxmax())
    assert row["quantity"] == f"ValNorm r, layer {best}"
    assert row["default"] == ddof["r_sample_sd"].iloc[best]


def test_prose_reads_texts_as_attributes_and_shows_them_without_quotes():
    from IPython.lib.pretty import pretty

    text = prose.Prose({"n_pairs": 1379}, verdict="holds")
    assert text.n_pairs == "1379" and isinstance(text.n_pairs, prose.Phrase)
    assert text.update(extra=".73 (layer 4)") is None  # a cell that updates shows nothing
    assert repr(text.extra) == ".73 (layer 4)"
    assert pretty(text.extra) == ".73 (layer 4)"  # IPython's text/plain: what {eval} shows
    assert pretty(".73") == "'.73'"  # a plain str would show its quotes
    with pytest.raises(AttributeError, match=r"no text 'missing' yet \(it has: extra, n_pairs"):
        _ = text.missing
    assert {"n_pairs", "verdict", "extra"} <= set(dir(text))


def test_chapter5_is_the_union_of_its_sections():
    sts = _sts(0.40)
    published = pd.DataFrame(columns=["reproduced (top layer)", "published", "difference"])
    gap = pd.DataFrame({"relative_depth": [0.0, 0.5, 1.0], "gap": [0.10, -0.04, 0.20]})
    conv = pd.DataFrame(columns=["difference"])
    whole = _chapter5(sts, published, {"eos": gap}, conv)
    parts = (
        prose.sts.scores_texts(sts, 1000)
        | {"native_check": prose.sts.native_check(published)}
        | prose.sts.gaps_texts({"eos": gap})
        | {"conv_max": "not applicable"}
    )
    assert whole == parts
    assert {"wins_eos", "gap_lower_eos"} <= set(parts) and "wins_last" not in parts
