"""The script-vs-paper ablations on the tiny models: each answer is known without them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import layerwise.pipeline.config as pipeline_config
import layerwise.pipeline.tables as pipeline_tables
from layerwise import experiments
from layerwise.measure import ablations
from layerwise.measure import sentences as measure_sentences
from layerwise.store.cache import Cache


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_gpt2, tiny_clip):
    s = experiments.MeasureOptions(
        n_cwe=200, n_resamples=20, cache=Cache(tmp_path_factory.mktemp("cache")), progress=False
    )
    return {"contrastive": tiny_clip, "causal": tiny_gpt2}, s


def test_valnorm_sd_leaves_pearson_unchanged(setup):
    models, s = setup
    rows = ablations.valnorm_sd(models, s)
    assert len(rows) == 2
    for row in rows:
        assert abs(row["difference"]) < 1e-12
        assert -1 <= row["default"] <= 1


def test_token_sampling_changes_nothing_for_a_model_without_special_tokens(setup):
    models, s = setup
    sentences = ["A girl is styling her hair.", "A man plays a guitar on the street."] * 60
    rows = ablations.token_sampling({"causal": models["causal"]}, sentences, s)
    # GPT-2's native input has no BOS/EOS: both samplers draw from the same positions
    assert all(r["difference"] == 0 for r in rows)
    clip = ablations.token_sampling({"contrastive": models["contrastive"]}, sentences, s)
    assert any(r["difference"] != 0 for r in clip)


def test_final_norm_rows_only_for_models_with_a_final_norm(setup):
    models, s = setup
    sentences = ["A girl is styling her hair."] * 80
    frames: dict[str, list[pd.DataFrame]] = {}
    for role, lm in models.items():
        ex = experiments.cwe_states(lm, sentences, s)
        for name, df in (
            ("cwe_geometry", experiments.cwe_geometry(ex, lm, ["self_similarity"])),
            ("sts", experiments.sts_benchmark_scores(lm, ("eos",), s)),
            ("sentence_self_similarity", experiments.sentence_self_similarity(lm, ("eos",), s)),
        ):
            frames.setdefault(name, []).append(df.assign(role=role))
    tables = {name: pd.concat(dfs) for name, dfs in frames.items()}
    rows = ablations.final_norm(models, tables)
    assert len(rows) == 6  # three quantities x two models, both with a final norm
    assert all(np.isfinite(r["default"]) and np.isfinite(r["alternative"]) for r in rows)


def test_deviation_table_is_cached_and_a_warm_run_loads_no_states(tmp_path, monkeypatch):

    cfg = pipeline_config.RunConfig(
        profile="tiny", scale="reduced", cache_dir=str(tmp_path), device="cpu"
    )
    models = pipeline_config.load_profile(cfg, log=None)
    s = cfg.options()
    tables = {
        name: pipeline_tables.compute_table(name, models, s) for name in pipeline_tables.ROLE_TABLES
    }
    cold = ablations.deviation_table(models, tables, s)
    assert set(cold["deviation"]) == set(ablations.ALTERNATIVES)
    assert cold["alternative is"].notna().all()

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
