"""The script-vs-paper ablations on the tiny models: each answer is known without them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import layerwise as lw
import layerwise.pipeline.config as pipeline_config
import layerwise.pipeline.tables as pipeline_tables
from layerwise.measure import ablations
from layerwise.measure import sentences as measure_sentences
from layerwise.store.cache import Cache


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_gpt2, tiny_clip):
    s = lw.MeasureOptions(
        n_cwe=200, n_resamples=20, cache=Cache(tmp_path_factory.mktemp("cache")), progress=False
    )
    return {"contrastive": tiny_clip, "causal": tiny_gpt2}, s


def _plain_effect_sizes(t, a, b, ddof: int) -> np.ndarray:
    """SC-WEAT effect sizes [n_targets, L] with numpy: (mean cos to A - mean cos to B) / SD
    of the cosines to A and B together (``ddof`` 1: sample SD, 0: population SD)."""

    def unit(x):
        x = x.astype(np.float64)
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    ut, ua, ub = unit(t), unit(a), unit(b)
    cos_a = np.einsum("tld,ald->tla", ut, ua)
    cos_b = np.einsum("tld,bld->tlb", ut, ub)
    both = np.concatenate([cos_a, cos_b], axis=-1)
    return (cos_a.mean(-1) - cos_b.mean(-1)) / both.std(axis=-1, ddof=ddof)


def test_valnorm_sd_rows_equal_pearson_r_computed_here(setup):
    """Each row's r (sample SD) and r (population SD) at the best layer equal scipy's
    Pearson r of effect sizes computed here with numpy from the models' word states; the
    two are equal (population-SD effect sizes are the sample-SD ones times
    sqrt(n / (n - 1)), n = |A| + |B|: one positive factor leaves r unchanged)."""
    from scipy import stats

    from layerwise import data
    from layerwise.measure.words import word_states

    models, s = setup
    rows = {r["model"]: r for r in ablations.valnorm_sd(models, s)}
    assert len(rows) == 2
    lex = data.load_valnorm()
    words = list(dict.fromkeys([w.word for w in lex] + list(data.PLEASANT + data.UNPLEASANT)))
    index = {w: i for i, w in enumerate(words)}
    valence = np.array([w.valence for w in lex])
    n_attr = len(data.PLEASANT) + len(data.UNPLEASANT)
    for lm in models.values():
        ex = word_states(lm, words, ["wrapped"], s)["wrapped"].states
        t = ex[[index[w.word] for w in lex]]
        a = ex[[index[w] for w in data.PLEASANT]]
        b = ex[[index[w] for w in data.UNPLEASANT]]
        e1, e0 = _plain_effect_sizes(t, a, b, 1), _plain_effect_sizes(t, a, b, 0)
        np.testing.assert_allclose(e0, e1 * np.sqrt(n_attr / (n_attr - 1)), rtol=1e-12)
        r1 = np.array([stats.pearsonr(e1[:, k], valence).statistic for k in range(e1.shape[1])])
        r0 = np.array([stats.pearsonr(e0[:, k], valence).statistic for k in range(e0.shape[1])])
        best = int(np.argmax(r1))
        row = rows[lm.spec.name]
        assert row["quantity"] == f"ValNorm r, layer {best}"
        assert row["default"] == pytest.approx(r1[best], abs=1e-9)
        assert row["alternative"] == pytest.approx(r0[best], abs=1e-9)
        assert r1[best] == pytest.approx(r0[best], abs=1e-12)
        assert abs(row["difference"]) < 1e-12


def test_token_sampling_changes_nothing_for_a_model_without_special_tokens(setup):
    models, s = setup
    sentences = ["A girl is styling her hair.", "A man plays a guitar on the street."] * 60
    rows = ablations.token_sampling({"causal": models["causal"]}, sentences, s)
    # GPT-2's native input has no BOS/EOS: both samplers draw from the same positions
    assert all(r["difference"] == 0 for r in rows)
    clip = ablations.token_sampling({"contrastive": models["contrastive"]}, sentences, s)
    assert any(r["difference"] != 0 for r in clip)


def test_final_norm_rows_are_the_tables_top_layer_values(setup):
    """Each row of note 7 is read here from the tables themselves: at the top layer, the row
    with ``top == "native"`` is the default and the one other convention (GPT-2's native
    top is after its final norm, so the other is "pre_norm"; CLIP's is before it, so
    "post_norm") the alternative; the difference is alternative - default. A model without
    a final norm (tiny BERT) gets no row: its tables are not even read (none are given)."""
    from layerwise.models.loading import load_model

    models, s = setup
    sentences = ["A girl is styling her hair."] * 80
    frames: dict[str, list[pd.DataFrame]] = {}
    for role, lm in models.items():
        ex = lw.cwe_states(lm, sentences, s)
        for name, df in (
            ("cwe_geometry", lw.cwe_geometry(ex, lm, ["self_similarity"])),
            ("sts", lw.sts_benchmark_scores(lm, ("eos",), s)),
            ("sentence_self_similarity", lw.sentence_self_similarity(lm, ("eos",), s)),
        ):
            frames.setdefault(name, []).append(df.assign(role=role))
    tables = {name: pd.concat(dfs) for name, dfs in frames.items()}
    bert = load_model("tiny:bert", device="cpu")
    assert bert.spec.top_state == "no_final_norm"
    rows = ablations.final_norm(models | {"bidirectional": bert}, tables)
    assert len(rows) == 6  # three quantities x two models with a final norm, none for BERT
    other = {"tiny:gpt2": "pre_norm", "tiny:clip": "post_norm"}
    picks = [
        ("cwe_geometry", "measure", "self_similarity"),
        ("sts", "setting", "eos"),
        ("sentence_self_similarity", "setting", "eos"),
    ]
    expected = []
    for role, lm in models.items():
        for table, column, value in picks:
            df = tables[table]
            top = df[
                (df["role"] == role) & (df["layer"] == lm.spec.n_layers) & (df[column] == value)
            ]
            assert set(top["top"]) == {"native", other[lm.spec.source]}
            native = top.loc[top["top"] == "native", "value"]
            alt = top.loc[top["top"] == other[lm.spec.source], "value"]
            assert len(native) == len(alt) == 1
            expected.append((lm.spec.name, float(native.iloc[0]), float(alt.iloc[0])))
    got = [(r["model"], r["default"], r["alternative"]) for r in rows]
    assert got == expected
    for r, (_, native, alt) in zip(rows, expected, strict=True):
        assert r["deviation"] == "7 final layer norm"
        assert r["difference"] == pytest.approx(alt - native, abs=1e-15)
        assert native != alt  # the final norm changes each of these quantities


def _plain_self_similarity(x: np.ndarray) -> float:
    """Mean cosine over ordered pairs i != j of the rows of ``x`` (paper Eq. 1), numpy."""
    u = x.astype(np.float64)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    cos = u @ u.T
    return float((cos.sum() - np.trace(cos)) / (len(u) * (len(u) - 1)))


def test_deviation_table_is_cached_and_a_warm_run_loads_no_states(tmp_path, monkeypatch):
    """The table is cached (a warm call reads it, loading no states; changed input tables
    are a miss), and its numbers are the measurements: note 2's rows are the CWE
    self-similarity (numpy) of the run's samples without and with BOS/EOS positions, note
    7's rows the top-layer values of the input tables, note 5's rows equal (r does not
    depend on the SD convention)."""
    from layerwise.measure.cwe import cwe_sentences, cwe_states

    # smaller samples than the reduced scale's (1,000 tokens, 200 resamples): the checks are
    # equalities with the run's own samples, whatever their size
    cfg = pipeline_config.RunConfig(
        profile="tiny", n_cwe=200, n_resamples=20, cache_dir=str(tmp_path), device="cpu"
    )
    models = pipeline_config.load_profile(cfg, log=None)
    s = cfg.options()
    tables = {
        name: pipeline_tables.compute_table(name, models, s) for name in pipeline_tables.ROLE_TABLES
    }
    cold = ablations.deviation_table(models, tables, s)
    assert set(cold["deviation"]) == set(ablations.ALTERNATIVES)
    assert cold["alternative is"].notna().all()

    sentences = cwe_sentences(list(models.values()), s)
    for role, lm in models.items():
        rows = cold[cold["model"] == lm.spec.name].set_index("quantity")
        real = cwe_states(lm, sentences, s).states  # cache hits: the table's own samples
        special = cwe_states(lm, sentences, s, include_special=True).states
        top = lm.spec.n_layers
        for layer in (0, top // 2, top):
            row = rows.loc[f"CWE self-similarity, layer {layer}"]
            assert row["deviation"] == "2 token sampling"
            assert row["default"] == pytest.approx(_plain_self_similarity(real[:, layer]), abs=1e-6)
            want = _plain_self_similarity(special[:, layer])
            assert row["alternative"] == pytest.approx(want, abs=1e-6)
        sts = tables["sts"]
        at_top = sts[(sts["role"] == role) & (sts["layer"] == top) & (sts["setting"] == "eos")]
        alt_name = ({"native"} ^ set(at_top["top"])).pop()
        norm = rows[
            (rows["deviation"] == "7 final layer norm")
            & rows.index.str.startswith("STS-B Spearman, EOS")
        ]
        assert len(norm) == 1
        assert norm["default"].iloc[0] == at_top.loc[at_top["top"] == "native", "value"].iloc[0]
        assert norm["alternative"].iloc[0] == at_top.loc[at_top["top"] == alt_name, "value"].iloc[0]
    valnorm = cold[cold["deviation"] == "5 ValNorm SD"]
    assert len(valnorm) == 2 and (valnorm["difference"].abs() < 1e-12).all()

    def no_states(*args, **kwargs):
        raise AssertionError("a warm run must not read states")

    for name in ("cwe_states", "word_states"):
        monkeypatch.setattr(ablations, name, no_states)
    monkeypatch.setattr(measure_sentences, "sentence_states", no_states)
    warm = ablations.deviation_table(models, tables, s)
    pd.testing.assert_frame_equal(warm, cold, check_dtype=False)
    changed = dict(tables, sts=tables["sts"].assign(value=tables["sts"]["value"] + 0.01))
    with pytest.raises(AssertionError, match="must not read states"):
        ablations.deviation_table(models, changed, s)  # other tables: computed, not read
