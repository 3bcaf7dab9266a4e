"""The script-vs-paper ablations on the tiny models: each answer is known without them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layerwise import ablations, experiments
from layerwise.cache import Cache


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_gpt2, tiny_clip):
    s = experiments.Settings(
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
