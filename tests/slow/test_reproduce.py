"""A whole reduced ``reproduce`` run of the tiny profile, three times: determinism and the
written numbers against numpy/scipy on the run's own states."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import layerwise.pipeline.config as pipeline_config
import layerwise.pipeline.tables as pipeline_tables
from layerwise import cli, data


def _csvs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.csv"))}


def _plain_self_similarity(x: np.ndarray) -> float:
    """Mean cosine over ordered pairs i != j of the rows of ``x`` (paper Eq. 1), numpy."""
    u = x.astype(np.float64)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    cos = u @ u.T
    return float((cos.sum() - np.trace(cos)) / (len(u) * (len(u) - 1)))


def _plain_spearman_of_cosines(a: np.ndarray, b: np.ndarray, target: np.ndarray) -> float:
    """scipy's Spearman rho of row-wise cosines (float64; identical rows: exactly 1)."""
    from scipy import stats

    a, b = a.astype(np.float64), b.astype(np.float64)
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    cos[(a == b).all(-1)] = 1.0
    return float(stats.spearmanr(cos, target).statistic)


def _written(df: pd.DataFrame, role: str, layer: int, top: str = "native", **eq) -> float:
    """The one value of a written tidy table at ``role``, ``layer``, ``top`` and ``eq``."""
    sel = (df["role"] == role) & (df["layer"] == layer) & (df["top"] == top)
    for column, value in eq.items():
        sel &= df[column] == value
    assert sel.sum() == 1, (role, layer, top, eq)
    return float(df.loc[sel, "value"].iloc[0])


def test_two_cold_runs_are_byte_identical_and_a_warm_run_equals_them(tmp_path, capsys):
    """Determinism (two cold runs write the same bytes; a warm run computes nothing and
    writes them again), and the numbers written are the measurements: CWE self-similarity
    at every layer (both top-layer conventions), the STS-B Spearman of the EOS setting and
    RG65's Spearman in the wrapped setting at every layer are recomputed here with numpy
    and scipy on the run's own states (read back from its cache)."""
    from layerwise.measure.cwe import cwe_sentences, cwe_states
    from layerwise.measure.sentences import sentence_states
    from layerwise.measure.words import all_task_words, word_states

    outs = []
    for run, cache in (("a", "c1"), ("b", "c2"), ("c", "c2")):  # cold, cold, warm
        out = tmp_path / run
        argv = ["reproduce", "--profile", "tiny", "--scale", "reduced", "--device", "cpu"]
        assert cli.main([*argv, "--cache-dir", str(tmp_path / cache), "--out", str(out)]) == 0
        outs.append(_csvs(out / "tiny"))
    assert set(outs[0]) == {f"{name}.csv" for name in pipeline_tables.TABLES}
    assert outs[0] == outs[1] == outs[2]
    assert "0 computed" in capsys.readouterr().out.splitlines()[-1]

    # the written numbers, against the same measurements made here on the run's states
    cfg = pipeline_config.RunConfig(
        profile="tiny", scale="reduced", cache_dir=str(tmp_path / "c2"), device="cpu"
    )
    models = pipeline_config.load_profile(cfg, log=None)
    s = cfg.options()
    written = {
        name: pd.read_csv(tmp_path / "a" / "tiny" / f"{name}.csv")
        for name in ("cwe_geometry", "sts", "word_tasks")
    }
    sentences = cwe_sentences(list(models.values()), s)
    pairs = data.load_sts_benchmark()
    sentence_row = {t: i for i, t in enumerate(data.sts_benchmark_sentences(pairs))}
    gold = np.array([p.score for p in pairs])
    rg65 = data.load_word_pairs("rg65")
    word_row = {w: i for i, w in enumerate(all_task_words())}
    checked = 0
    for role, lm in models.items():
        top = lm.spec.n_layers
        ex = cwe_states(lm, sentences, s)
        assert len(ex.states) == cfg.n_cwe
        for layer in range(top + 1):
            want = _plain_self_similarity(ex.states[:, layer])
            got = _written(written["cwe_geometry"], role, layer, measure="self_similarity")
            assert got == pytest.approx(want, abs=1e-6)
            checked += 1
        other = {"post_norm": "pre_norm", "pre_norm": "post_norm"}[lm.spec.top_state]
        got = _written(written["cwe_geometry"], role, top, other, measure="self_similarity")
        assert got == pytest.approx(_plain_self_similarity(ex.top_alt), abs=1e-6)

        eos = sentence_states(lm, data.sts_benchmark_sentences(pairs), "eos", s).states[:, top]
        a = eos[[sentence_row[p.sentence1] for p in pairs]]
        b = eos[[sentence_row[p.sentence2] for p in pairs]]
        got = _written(written["sts"], role, top, setting="eos")
        assert got == pytest.approx(_plain_spearman_of_cosines(a, b, gold), abs=1e-9)

        w = word_states(lm, all_task_words(), ("wrapped",), s)["wrapped"].states
        first = w[[word_row[p.word1] for p in rg65]]
        second = w[[word_row[p.word2] for p in rg65]]
        human = np.array([p.score for p in rg65])
        for layer in range(top + 1):
            want = _plain_spearman_of_cosines(first[:, layer], second[:, layer], human)
            got = _written(written["word_tasks"], role, layer, setting="wrapped", task="rg65")
            assert got == pytest.approx(want, abs=1e-9)
    assert checked == sum(lm.spec.n_layers + 1 for lm in models.values())
