"""Known-answer tests for the tables that set reproduced numbers beside the paper's."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import layerwise.report.table1 as report_table1
import layerwise.report.text as report_text
from layerwise.data import reference


def _frame(role, model, values, **cols):
    return pd.DataFrame(
        [
            {
                "role": role,
                "model": model,
                "layer": i,
                "top": "native",
                "value": v,
                "low": v - 0.1,
                "high": v + 0.1,
                **cols,
            }
            for i, v in enumerate(values)
        ]
    )


def test_best_and_top_picks_argmax_and_last_layer_native_only():
    df = _frame("causal", "m", [0.1, 0.5, 0.3], setting="eos", task="rg65")
    alt = pd.DataFrame(
        [
            {
                "role": "causal",
                "model": "m",
                "layer": 2,
                "top": "pre_norm",
                "value": 0.9,
                "setting": "eos",
                "task": "rg65",
            }
        ]
    )
    out = report_table1.best_and_top(pd.concat([df, alt]), ["setting", "task"]).iloc[0]
    assert (out["best"], out["best_layer"], out["top"], out["top_layer"]) == (0.5, 1, 0.3, 2)
    assert out["best_low"] == pytest.approx(0.4)


def test_table1_maps_paper_rows_to_roles_and_settings():
    words = {
        "contrastive": _frame("contrastive", "C", [0.2, 0.9, 0.7], setting="wrapped", task="rg65"),
        "causal": _frame("causal", "G", [0.0, 0.3, 0.1], setting="bare", task="rg65"),
    }
    t1 = report_table1.table1(words).set_index("row")
    assert set(t1.index) == {"CLIP", "GPT-2, no BOS"}
    clip = t1.loc["CLIP"]
    assert clip["model"] == "C" and clip["best"] == 0.9 and clip["best_layer"] == 1
    assert clip["paper_best"] == 0.88 and clip["diff_best"] == pytest.approx(0.02)
    assert t1.loc["GPT-2, no BOS", "diff_top"] == pytest.approx(0.1 - 0.01)
    cells = report_table1.format_table1(report_table1.table1(words))
    assert cells.loc["CLIP", ("RG65", "best")] == "0.90 (1) [0.88 (8)]"


def test_at_relative_depth_aligns_first_and_last_layers():
    deep = pd.Series(np.arange(13) / 12, index=range(13))
    out = report_table1.at_relative_depth(deep, pd.Index(range(7)))
    assert list(out.index) == list(range(7))
    assert out.iloc[0] == 0 and out.iloc[-1] == 1 and out.iloc[3] == 0.5
    same = report_table1.at_relative_depth(deep, pd.Index(range(13)))
    assert np.array_equal(same.to_numpy(), deep.to_numpy())


def test_claim_checks_direction_and_differences_by_hand():
    geo = pd.concat(
        [
            _frame("causal", "G", [0.7, 0.6, 0.96], measure="self_similarity"),
            _frame("contrastive", "C", [0.2, 0.06, 0.24], measure="self_similarity"),
            _frame("causal", "G", [0.5, 0.6, 0.98], measure="top5_share"),
            _frame("contrastive", "C", [0.3, 0.3, 0.4], measure="top5_share"),
            _frame("causal", "G", [0.52, 0.61, 0.99], measure="top8_share"),
            _frame("contrastive", "C", [0.31, 0.35, 0.41], measure="top8_share"),
        ]
    )
    out = report_table1.claim_checks({"cwe_geometry": geo}).set_index("claim")
    rows = {c.key: c.text for c in reference.CLAIMS}
    assert out.loc[rows["cwe_ss_contrastive_max"], "reproduced"] == 0.24
    assert out.loc[rows["cwe_ss_contrastive_max"], "direction_holds"]
    assert out.loc[rows["cwe_ss_causal_min"], "reproduced"] == 0.6
    assert out.loc[rows["cwe_ss_causal_min"], "difference"] == pytest.approx(0.05)
    # top-8 adds 0.05 for the contrastive model at layer 1: the "< 3 points" claim fails
    gap = out.loc[rows["top8_minus_top5"]]
    assert gap["reproduced"] == pytest.approx(0.05) and not gap["direction_holds"]


def test_reference_table1_is_complete():
    t = reference.table1_frame()
    assert len(t) == 25
    assert set(t["task"]) == set(reference.TABLE1_TASKS)
    assert t.set_index(["row", "task"]).loc[("CLIP", "rg65"), "best"] == 0.88


def test_format_ci_prints_like_the_paper():
    assert report_text.format_ci(0.876, 0.8, 0.93, 8) == ".88 [.80, .93] (8)"
    assert report_text.format_ci(-0.01, np.nan, np.nan) == "-.01"


def test_layerwise_gap_and_its_reading_by_hand():
    sts = pd.concat(
        [
            _frame("contrastive", "C", [0.5, 0.6, 0.8], setting="eos"),
            _frame("causal", "G", [0.4, np.nan, 0.5, 0.55, 0.2], setting="eos"),
        ]
    )
    gap = report_text.layerwise_gap(
        sts, {"role": "contrastive", "setting": "eos"}, {"role": "causal", "setting": "eos"}
    )
    # contrastive layers 0, 1, 2 sit at relative depth 0, .5, 1: causal layers 0, 2, 4
    assert list(gap["b"]) == [0.4, 0.5, 0.2]
    assert gap["gap"].tolist() == pytest.approx([0.1, 0.1, 0.6])
    text = report_text.gap_texts(gap)
    assert text["wins"] == "3 of 3" and text["every"] == "holds" and text["grows"] == "holds"
    assert text["gap_upper"] == "+0.60" and text["gap_lower"] == "+0.10"


def test_top_conventions_pairs_native_top_with_the_other_convention():
    df = _frame("causal", "G", [0.2, 0.9], measure="self_similarity")
    alt = pd.DataFrame(
        [
            {
                "role": "causal",
                "model": "G",
                "layer": 1,
                "top": "pre_norm",
                "value": 0.5,
                "measure": "self_similarity",
            }
        ]
    )
    out = report_text.top_conventions(pd.concat([df, alt]), ["model", "measure"]).iloc[0]
    assert (out["native"], out["other"], out["other convention"]) == (0.9, 0.5, "pre_norm")
    assert out["difference"] == pytest.approx(-0.4)


def test_setting_label_names_paper_rows_and_extras():
    assert report_text.setting_label("causal", "wrapped") == "GPT-2, with BOS"
    assert "not in the paper" in report_text.setting_label("contrastive", "bare")


def test_top_in_other_convention_swaps_only_the_top_layer_of_normed_models():
    g = _frame("causal", "G", [0.2, 0.9], measure="self_similarity")
    c = _frame("contrastive", "C", [0.1, 0.3], measure="self_similarity")  # no final norm
    alt = g.iloc[[1]].assign(top="pre_norm", value=0.5, low=0.4, high=0.6)
    out = report_text.top_in_other_convention(pd.concat([g, alt, c]))
    assert (out["top"] == "native").all() and len(out) == 4
    got = out.set_index(["model", "layer"])[["value", "low", "high"]]
    assert got.loc[("G", 1)].tolist() == [0.5, 0.4, 0.6]
    assert got.loc[("G", 0)].tolist() == pytest.approx([0.2, 0.1, 0.3])
    assert got.loc["C"]["value"].tolist() == [0.1, 0.3]
    # a table without another convention comes back as its native rows
    same = report_text.top_in_other_convention(c)
    pd.testing.assert_frame_equal(same, c.reset_index(drop=True))


def _layers(role: str, model: str, values, **cols) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"role": role, "model": model, "layer": i, "top": "native", "value": v, **cols}
            for i, v in enumerate(values)
        ]
    )


def test_table1_keeps_a_task_whose_top_layer_is_undefined(caplog) -> None:
    words = {
        "contrastive": _layers(
            "contrastive", "C", [0.2, 0.9, np.nan], setting="wrapped", task="rg65"
        ),
        "causal": _layers("causal", "G", [np.nan, np.nan, np.nan], setting="bare", task="rg65"),
    }
    with caplog.at_level(logging.WARNING, logger="layerwise.results"):
        t1 = report_table1.table1(words).set_index("row")
    assert set(t1.index) == {"CLIP", "GPT-2, no BOS"}  # neither row dropped
    clip = t1.loc["CLIP"]
    assert clip["best"] == 0.9 and clip["best_layer"] == 1 and np.isnan(clip["top"])
    assert clip["note"] == "undefined (NaN) at layer(s) 2"
    gpt2 = t1.loc["GPT-2, no BOS"]
    assert np.isnan(gpt2["best"]) and pd.isna(gpt2["best_layer"])
    assert gpt2["note"] == "undefined (NaN) at layer(s) 0, 1, 2"
    assert "undefined (NaN) at layer(s) 2" in caplog.text
    cells = report_table1.format_table1(t1.reset_index())
    assert cells.loc["CLIP", ("RG65", "top")] == "undefined [0.70]"
    assert cells.loc["GPT-2, no BOS", ("RG65", "best")].startswith("undefined [")


def test_claim_checks_keep_nan_undefined_not_false(caplog) -> None:
    geo = pd.concat(
        [
            _layers("causal", "G", [0.7, 0.6, np.nan], measure="self_similarity"),
            _layers("contrastive", "C", [0.2, 0.06, 0.24], measure="self_similarity"),
            _layers("causal", "G", [0.5, 0.6, 0.98], measure="top5_share"),
            _layers("contrastive", "C", [0.3, 0.3, 0.4], measure="top5_share"),
            _layers("causal", "G", [0.51, 0.61, 0.99], measure="top8_share"),
            _layers("contrastive", "C", [0.31, 0.31, 0.41], measure="top8_share"),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="layerwise.results"):
        out = report_table1.claim_checks({"cwe_geometry": geo})
    rows = {c.key: c.text for c in reference.CLAIMS}
    out = out.set_index("claim")
    top = out.loc[rows["cwe_ss_causal_top"]]  # compares GPT-2's NaN top layer
    assert pd.isna(top["direction_holds"]) and top["direction_holds"] is not False
    assert "direction undefined" in top["note"] and "layer(s) 2" in top["note"]
    assert report_table1.holds_text(top["direction_holds"]) == "undefined"
    held = out.loc[rows["cwe_ss_contrastive_max"]]  # max over defined layers: 0.24 < 0.6
    assert held["direction_holds"] == True  # noqa: E712 (nullable boolean)
    assert "causal, self_similarity: undefined (NaN) at layer(s) 2" in held["note"]
    # by hand: 0.24 < 0.6, 0.06 < 0.6, 0.6 > 0.24, top-5 .98 > .4 both ways, gap .01 < .03
    assert out["direction_holds"].sum() == 6  # the undefined claim is not counted
    assert int(out["direction_holds"].isna().sum()) == 1
    assert "direction undefined" in caplog.text
    assert report_text.fmt(float("nan")) == "undefined"


def test_best_and_top_reports_the_undefined_top_layer() -> None:
    df = _layers("causal", "G", [0.1, 0.5, np.nan], setting="eos", task="stsb")
    out = report_table1.best_and_top(df, ["setting", "task"]).iloc[0]
    assert (out["best"], out["best_layer"], out["top_layer"]) == (0.5, 1, 2)
    assert np.isnan(out["top"]) and out["undefined_layers"] == "undefined (NaN) at layer(s) 2"


def test_table1_of_no_word_table_is_refused() -> None:
    """Used to: table1({}) returned an empty table, as if every row had been dropped."""
    from layerwise.errors import InputError

    with pytest.raises(InputError, match=r"^table1: words is empty"):
        report_table1.table1({})


def test_table1_carries_the_note_of_a_task_whose_words_became_the_unknown_token() -> None:
    """Used to: a word table said nothing of words the tokenizer maps to its unknown token
    (they share one state), and neither did Table 1; its note now carries the word table's."""
    said = "2 of 65 pairs read a text holding the tokenizer's unknown token '[UNK]'"
    clip = _frame("contrastive", "C", [0.2, 0.9, 0.7], setting="wrapped", task="rg65")
    clip["note"] = said
    words = {
        "contrastive": clip,
        "causal": _frame("causal", "G", [0.0, 0.3, 0.1], setting="bare", task="rg65"),
    }
    t1 = report_table1.table1(words).set_index("row")
    assert t1.loc["CLIP", "note"] == said
    assert t1.loc["GPT-2, no BOS", "note"] == ""


def test_table1_and_claims_notes_say_why_a_layer_needed_a_zero_vector() -> None:
    """A table with a ``note`` (a layer-0 value that needed a zero vector, issue 24) gives
    Table 1's row, and each claim that reads the series, that note after the undefined
    layers, so their reader sees which token made layer 0 undefined; a series without a
    note keeps only the list. Before issue 24 the note was not carried."""
    why = "undefined (NaN): model 'Z', layer 0: 1 of the 9 words is a zero vector (...)"
    df = pd.concat(
        [
            _layers("causal", "Z", [np.nan, 0.4, 0.5], setting="wrapped", task="rg65"),
            _layers("causal", "Z", [np.nan, 0.3, 0.2], setting="wrapped", task="ws353"),
        ],
        ignore_index=True,
    )
    df.loc[0, "note"] = why
    out = report_table1.best_and_top(df, ["setting", "task"]).set_index("task")
    assert out.loc["rg65", "undefined_layers"] == f"undefined (NaN) at layer(s) 0; {why}"
    assert out.loc["ws353", "undefined_layers"] == "undefined (NaN) at layer(s) 0"
    assert (out.loc["rg65", "best"], out.loc["rg65", "best_layer"]) == (0.5, 2)
    geo = pd.concat(
        [
            _layers("causal", "G", [np.nan, 0.6, 0.7], measure="self_similarity"),
            _layers("contrastive", "C", [0.2, 0.06, 0.24], measure="self_similarity"),
        ]
        + [
            _layers(role, name, values, measure=f"top{k}_share")
            for k in (5, 8)
            for role, name, values in (
                ("causal", "G", [0.5, 0.6, 0.9]),
                ("contrastive", "C", [0.3] * 3),
            )
        ],
        ignore_index=True,
    )
    geo.loc[0, "note"] = why
    claims = report_table1.claim_checks({"cwe_geometry": geo}).set_index("claim")
    text = {c.key: c.text for c in reference.CLAIMS}
    note = claims.loc[text["cwe_ss_causal_min"], "note"]
    assert note == f"causal, self_similarity: undefined (NaN) at layer(s) 0; {why}"
