"""pipeline.tables: tables computed once, then read back without loading weights."""

from __future__ import annotations

import pandas as pd

import layerwise.pipeline.config as pipeline_config
import layerwise.pipeline.tables as pipeline_tables


def test_warm_run_never_loads_the_weights(tmp_path):
    cfg = pipeline_config.RunConfig(
        profile="tiny", n_cwe=60, n_resamples=5, cache_dir=str(tmp_path / "c"), device="cpu"
    )
    cold = pipeline_config.load_profile(cfg, log=None)
    s = cfg.options()
    first = pipeline_tables.compute_table("sentence_self_similarity", cold, s)
    warm = pipeline_config.load_profile(cfg, log=None)
    assert not any(lm.weights_loaded for lm in warm.values())
    s2 = cfg.options()
    again = pipeline_tables.compute_table("sentence_self_similarity", warm, s2)
    pd.testing.assert_frame_equal(first, again)
    assert not any(lm.weights_loaded for lm in warm.values())
    assert s2.cache.misses == 0
