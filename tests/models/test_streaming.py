"""The analyses read their states one layer at a time (issue 17, "big models").

Every extraction an analysis asks for is replaced by random states (the same for the same
extraction), given either in memory or on disk as a layer-major file read through
:class:`~layerwise.extract.states.RawLayers`. On disk, ``Extracted.states`` (every layer
at once) raises, so an analysis that reads all layers fails here; its tables must equal
the in-memory run's to the last bit, and their values are recomputed here from the random
states with numpy and scipy (cosines, Spearman, Pearson, self-similarity by the full
cosine matrix), not with the package's estimators.
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import layerwise.measure.cwe as measure_cwe
import layerwise.measure.sentences as measure_sentences
import layerwise.measure.words as measure_words
from layerwise import data
from layerwise.extract.states import Extracted, RawLayers
from layerwise.measure.ablations import valnorm_ddof
from layerwise.measure.common import MeasureOptions
from layerwise.measure.multi import model_parts
from layerwise.measure.sentences import (
    sentence_input_groups,
    sentence_self_similarity,
    sts_benchmark_scores,
)
from layerwise.measure.words import all_task_words, word_task_scores


class RandomStates:
    """Stands in for extraction: random float32 states ``[n_reads, L+1, d]`` and a random
    ``top_alt`` for each extraction (by label), in memory or on disk."""

    def __init__(self, folder, on_disk: bool) -> None:
        self.folder, self.on_disk = folder, on_disk
        self.made: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def __call__(self, lm, requests, label, s) -> Extracted:
        built = list(requests() if callable(requests) else requests)
        n = sum(len(r.reads) for r in built)
        shape = (n, lm.spec.n_states, lm.spec.hidden_size)
        seed = zlib.crc32(label.encode())
        rng = np.random.default_rng(seed)
        states = rng.standard_normal(shape, dtype=np.float32)
        alt = rng.standard_normal((n, shape[2]), dtype=np.float32)
        self.made[label] = (states, alt)
        if not self.on_disk:
            return Extracted(states.copy(), alt.copy())
        path = self.folder / f"{seed}.f32"
        np.ascontiguousarray(states.transpose(1, 0, 2)).astype("<f4").tofile(path)
        return Extracted(top_alt=alt.copy(), layers=RawLayers(path, 0, shape))

    def one(self, suffix: str) -> tuple[np.ndarray, np.ndarray]:
        (label,) = [k for k in self.made if k.endswith(suffix)]
        return self.made[label]


def _every_layer_at_once(self):
    raise AssertionError("an analysis read every layer at once (Extracted.states)")


@contextmanager
def _extraction(monkeypatch, folder, on_disk: bool):
    fake = RandomStates(folder, on_disk)
    with monkeypatch.context() as m:
        for module in (measure_cwe, measure_words, measure_sentences):
            m.setattr(module, "extract_states", fake)
        if on_disk:
            m.setattr(Extracted, "states", property(_every_layer_at_once))
        yield fake


def both_ways(monkeypatch, tmp_path, analysis):
    """``analysis()`` on states in memory and on disk (``states`` raising): both results and
    the random states they read."""
    with _extraction(monkeypatch, tmp_path, on_disk=False):
        in_memory = analysis()
    with _extraction(monkeypatch, tmp_path, on_disk=True) as fake:
        streamed = analysis()
    return streamed, in_memory, fake


def _options() -> MeasureOptions:
    return MeasureOptions(n_cwe=60, n_resamples=20, cache=None, progress=False)


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine per layer, [n, L, d] (or [n, d]) -> [n, L] (or [n]), float64."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def _spearman(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    return np.array([stats.spearmanr(v, target).statistic for v in values.T])


def _values(table: pd.DataFrame, top: str = "native", **eq) -> np.ndarray:
    d = table[table["top"] == top]
    for col, v in eq.items():
        d = d[d[col] == v]
    return d.sort_values("layer")["value"].to_numpy()


def _self_similarity(x: np.ndarray) -> float:
    u = x.astype(np.float64)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    cos = u @ u.T
    return float((cos.sum() - np.trace(cos)) / (len(u) * (len(u) - 1)))


def test_word_tasks_read_one_layer_at_a_time(monkeypatch, tmp_path, tiny_gpt2):
    s = _options()
    streamed, in_memory, fake = both_ways(
        monkeypatch, tmp_path, lambda: word_task_scores(tiny_gpt2, s=s)
    )
    pd.testing.assert_frame_equal(streamed, in_memory)
    assert set(streamed["top"]) == {"native", "pre_norm"}
    # the reads: each word's last subtoken then its closing token (one input), or bare
    states, alt = fake.one("wrapped+eos")
    by_setting = {
        "wrapped": (states[0::2], alt[0::2]),
        "eos": (states[1::2], alt[1::2]),
        "bare": fake.one("bare"),
    }
    row = {w: i for i, w in enumerate(all_task_words())}
    for setting, (x, x_alt) in by_setting.items():
        for task in ("rg65", "simverb3500"):
            pairs = data.load_word_pairs(task)
            a, b = [row[p.word1] for p in pairs], [row[p.word2] for p in pairs]
            human = np.array([p.score for p in pairs])
            want = _spearman(_cos(x[a], x[b]), human)
            got = _values(streamed, setting=setting, task=task)
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
            alt_want = stats.spearmanr(_cos(x_alt[a], x_alt[b]), human).statistic
            got_alt = _values(streamed, "pre_norm", setting=setting, task=task)
            np.testing.assert_allclose(got_alt, [alt_want], rtol=0, atol=1e-9)
        # ValNorm: Pearson's r of SC-WEAT effect sizes (sample SD) with valence
        lex = data.load_valnorm()
        t = x[[row[w.word] for w in lex]].astype(np.float64)
        pleasant = x[[row[w] for w in data.PLEASANT]].astype(np.float64)
        unpleasant = x[[row[w] for w in data.UNPLEASANT]].astype(np.float64)
        unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
        ca = np.einsum("wld,ald->wla", unit(t), unit(pleasant))
        cb = np.einsum("wld,bld->wlb", unit(t), unit(unpleasant))
        both = np.concatenate([ca, cb], axis=-1)
        effect = (ca.mean(-1) - cb.mean(-1)) / both.std(-1, ddof=1)
        valence = np.array([w.valence for w in lex])
        want = [stats.pearsonr(effect[:, k], valence).statistic for k in range(x.shape[1])]
        got = _values(streamed, setting=setting, task="valnorm")
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_valnorm_sd_ablation_reads_one_layer_at_a_time(monkeypatch, tmp_path, tiny_gpt2):
    s = _options()
    streamed, in_memory, _ = both_ways(monkeypatch, tmp_path, lambda: valnorm_ddof(tiny_gpt2, s))
    pd.testing.assert_frame_equal(streamed, in_memory)
    np.testing.assert_allclose(streamed["r_sample_sd"], streamed["r_population_sd"], atol=1e-12)
    assert (streamed["ratio_deviation"] < 1e-12).all()


def test_sts_and_sentence_self_similarity_read_one_layer_at_a_time(
    monkeypatch, tmp_path, tiny_gpt2
):
    s = _options()
    settings = ("eos", "last", "mean")
    streamed, in_memory, fake = both_ways(
        monkeypatch,
        tmp_path,
        lambda: (
            sts_benchmark_scores(tiny_gpt2, settings, s),
            sentence_self_similarity(tiny_gpt2, ("eos",), s),
        ),
    )
    for got, want in zip(streamed, in_memory, strict=True):
        pd.testing.assert_frame_equal(got, want)
    sts, selfsim = streamed
    pairs = data.load_sts_benchmark()
    row = {t: i for i, t in enumerate(data.sts_benchmark_sentences(pairs))}
    a, b = [row[p.sentence1] for p in pairs], [row[p.sentence2] for p in pairs]
    gold = np.array([p.score for p in pairs])
    for group in sentence_input_groups(tiny_gpt2):  # settings that share an input, interleaved
        states, alt = fake.one("sentences " + "+".join(group))
        for i, setting in enumerate(group):
            x, x_alt = states[i :: len(group)], alt[i :: len(group)]
            want = _spearman(_cos(x[a], x[b]), gold)
            np.testing.assert_allclose(_values(sts, setting=setting), want, rtol=0, atol=1e-9)
            alt_want = stats.spearmanr(_cos(x_alt[a], x_alt[b]), gold).statistic
            got_alt = _values(sts, "pre_norm", setting=setting)
            np.testing.assert_allclose(got_alt, [alt_want], rtol=0, atol=1e-9)
            if setting == "eos":
                want = [_self_similarity(x[:, k]) for k in range(x.shape[1])]
                got = _values(selfsim, setting="eos")
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)


def test_chapter_seven_tables_read_one_layer_at_a_time(monkeypatch, tmp_path, tiny_gpt2):
    s = _options()
    sentences = [x.text for x in data.load_sts_sentences()[:40]]
    streamed, in_memory, fake = both_ways(
        monkeypatch, tmp_path, lambda: model_parts(tiny_gpt2, sentences, s)
    )
    for name in ("isotropy", "rogue_dimensions", "postprocessing"):
        pd.testing.assert_frame_equal(getattr(streamed, name), getattr(in_memory, name))
    assert streamed.paired.keys() == in_memory.paired.keys() == {"raw", "abtt"}
    for method, tasks in streamed.paired.items():
        assert tasks.keys() == in_memory.paired[method].keys()
        for task, v in tasks.items():
            np.testing.assert_array_equal(v, in_memory.paired[method][task])

    # recomputed here: the CWE sample's self-similarity (isotropy table; the expected
    # cosine of the rogue-dimension table is the same number), raw RG65 and STS-B scores
    cwe, _ = fake.one("cwe")
    assert len(cwe) == s.n_cwe
    want = [_self_similarity(cwe[:, k]) for k in range(cwe.shape[1])]
    iso, rogue = streamed.isotropy, streamed.rogue_dimensions
    iso_ss = iso[(iso["sample"] == "cwe") & (iso["measure"] == "self_similarity")]
    np.testing.assert_allclose(iso_ss.sort_values("layer")["value"], want, atol=1e-9)
    expected = rogue[rogue["measure"] == "expected_cosine"].sort_values("layer")["value"]
    np.testing.assert_allclose(expected, want, atol=1e-9)
    post = streamed.postprocessing
    raw = post[post["method"] == "raw"]
    states, _ = fake.one("wrapped+eos")
    words = states[0::2]  # the wrapped setting: each word's last subtoken
    row = {w: i for i, w in enumerate(all_task_words())}
    pairs = data.load_word_pairs("rg65")
    a, b = [row[p.word1] for p in pairs], [row[p.word2] for p in pairs]
    cos = _cos(words[a], words[b])
    np.testing.assert_array_equal(streamed.paired["raw"]["rg65"].shape, cos.shape)
    np.testing.assert_allclose(streamed.paired["raw"]["rg65"], cos, atol=1e-12)
    want = _spearman(cos, np.array([p.score for p in pairs]))
    got = raw[raw["task"] == "rg65"].sort_values("layer")["value"]
    np.testing.assert_allclose(got, want, atol=1e-9)
    sts_pairs = data.load_sts_benchmark()
    srow = {t: i for i, t in enumerate(data.sts_benchmark_sentences(sts_pairs))}
    (group,) = [g for g in sentence_input_groups(tiny_gpt2) if "eos" in g]
    states, _ = fake.one("sentences " + "+".join(group))
    x = states[group.index("eos") :: len(group)]
    sa, sb = [srow[p.sentence1] for p in sts_pairs], [srow[p.sentence2] for p in sts_pairs]
    want = _spearman(_cos(x[sa], x[sb]), np.array([p.score for p in sts_pairs]))
    got = raw[(raw["task"] == "stsb") & (raw["setting"] == "eos")].sort_values("layer")["value"]
    np.testing.assert_allclose(got, want, atol=1e-9)


def test_the_guard_fails_an_analysis_that_reads_every_layer(monkeypatch, tmp_path):
    """On disk, reading one layer works and reading every layer at once raises, through a
    view too: what makes the tests above fail for an analysis that reads all layers."""
    path = tmp_path / "x.f32"
    np.zeros((2, 3, 4), dtype="<f4").tofile(path)
    with _extraction(monkeypatch, tmp_path, on_disk=True):
        ex = Extracted(top_alt=None, layers=RawLayers(path, 0, (3, 2, 4)))
        assert ex.take([0, 2]).layer(1).shape == (2, 4)
        with pytest.raises(AssertionError, match="every layer at once"):
            ex.take([0, 2]).states  # noqa: B018
