"""Tests for layerwise.paired and layerwise.compare (chapter 7, ``compare`` command)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from support import one_line

import layerwise.measure.multi as measure_multi
import layerwise.models.hub as models_hub
import layerwise.models.loading as models_loading
import layerwise.pipeline.compare as pipeline_compare
import layerwise.pipeline.profiles as pipeline_profiles
import layerwise.report.comparison as report_comparison
from layerwise import data
from layerwise.cli import main
from layerwise.data.registry import DATASETS
from layerwise.errors import InputError
from layerwise.measure.words import word_tasks
from layerwise.pipeline.config import RunConfig
from layerwise.stats.paired import paired_difference
from layerwise.store.cache import Cache


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
    assert report_comparison.verdict(pd.Series(row)) == "A > B"
    assert report_comparison.verdict(pd.Series(row | {"low": -0.3, "high": -0.1})) == "A < B"
    assert "no clear" in report_comparison.verdict(pd.Series(row | {"low": -0.1}))
    assert report_comparison.verdict(pd.Series(row | {"low": np.nan})) == "undefined"


def test_tiny_bert_is_an_encoder_with_cls_sep_and_no_final_norm():
    lm = models_loading.load_model("tiny:bert", device="cpu")
    tok = lm.tokenizer.convert_ids_to_tokens
    assert (tok(lm.spec.open_id), tok(lm.spec.close_id)) == ("[CLS]", "[SEP]")
    assert lm.spec.native_wrap and lm.spec.top_state == "no_final_norm"
    # the real uncased WordPiece vocabulary, not a stub that maps every word to [UNK]
    assert len(lm.tokenizer) == 30522
    assert tok(lm.tokens("Cats purr loudly")) == ["cats", "pu", "##rr", "loudly"]
    assert (lm.spec.n_layers, lm.spec.hidden_size, lm.spec.max_length) == (4, 64, 512)
    assert pipeline_profiles.PROFILE_EXTRAS["tiny"] == ("tiny:bert",)


def test_extras_skip_unreachable_hub_models_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    use, notes = pipeline_profiles.available_extras("paper")
    cached = [s for s in pipeline_profiles.PROFILE_EXTRAS["paper"] if models_hub.hub_cached(s)]
    assert use == cached and len(notes) == 3 - len(cached)
    assert pipeline_profiles.available_extras("tiny") == (["tiny:bert"], [])
    assert pipeline_profiles.available_extras("offline") == ([], [])


def test_compare_cli_writes_tidy_tables_for_three_models(tmp_path, tiny_gpt2, tiny_clip):
    """The ``compare`` command writes the four tidy tables with their provenance; their
    shapes, the bounds of each measure, and, for tiny GPT-2 against tiny CLIP, values
    recomputed here (numpy, scipy, IsoScore) on the run's states read back from its cache:
    the CWE uniformity and IsoScore of every layer and the raw paired rows of RG65 and
    STS-B (layers chosen, difference)."""
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
    # uniformity <= 0, and >= -4 - 4/(n-1) by Jensen (see test_isotropy_table_values_...)
    lowest = -4.0 - 4.0 / (120 - 1) - 1e-6
    assert cwe.query("measure == 'uniformity'")["value"].between(lowest, 1e-6).all()
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
    n_word = len(word_tasks())  # the dataset registry's word tasks
    # per model and method: CWE self-similarity + the word tasks + 2 STS settings, 5 layers each
    assert len(post) == 3 * 4 * (1 + n_word + 2) * 5
    scored = post[post["task"] != "cwe_self_similarity"].dropna(subset=["value"])
    assert ((scored["low"] <= scored["value"]) & (scored["value"] <= scored["high"])).all()
    paired = pd.read_csv(out / "paired_differences.csv")
    # 3 pairs of models x 2 methods x (word tasks + STS-B) x 2 layer choices
    assert len(paired) == 3 * 2 * (n_word + 1) * 2
    ok = paired.dropna(subset=["difference"])
    np.testing.assert_allclose(ok["difference"], ok["score_a"] - ok["score_b"], atol=1e-9)
    prov = json.loads((out / "provenance.json").read_text())
    assert set(prov) == set(measure_multi.COMPARE_TABLES)
    assert prov["isotropy"]["parameters"]["sources"] == ["tiny:gpt2", "tiny:clip", "tiny:bert"]

    # values: the run's states (cache hits) measured here
    from IsoScore.IsoScore import IsoScore as reference

    from layerwise.measure.common import MeasureOptions

    s = MeasureOptions(n_cwe=120, n_resamples=20, cache=Cache(tmp_path / "cache"))
    a, b = measure_multi.load_states([tiny_gpt2, tiny_clip], s)
    for ms in (a, b):
        assert ms.cwe.shape[0] == 120
        for layer in range(ms.n_layers + 1):
            x = ms.cwe.layer(layer).astype(np.float64)
            at = cwe[(cwe["model"] == ms.name) & (cwe["layer"] == layer)].set_index("measure")
            assert at.loc["uniformity", "value"] == pytest.approx(_plain_uniformity(x), abs=1e-6)
            assert at.loc["isoscore", "value"] == pytest.approx(float(reference(x)), abs=1e-6)
    raw = paired[
        (paired["model_a"] == a.name) & (paired["model_b"] == b.name) & (paired["method"] == "raw")
    ]
    for task in ("rg65", "stsb"):
        ra, rb = _plain_task_scores(a, task), _plain_task_scores(b, task)
        for choice, la, lb in (
            ("best", int(np.argmax(ra)), int(np.argmax(rb))),
            ("top", a.n_layers, b.n_layers),
        ):
            row = raw[(raw["task"] == task) & (raw["choice"] == choice)].iloc[0]
            assert (row["layer_a"], row["layer_b"]) == (la, lb)
            assert row["difference"] == pytest.approx(ra[la] - rb[lb], abs=1e-9)


def test_compare_raw_matches_chapter_four_scores(two_states, tiny_gpt2):
    """The raw postprocessing row is the word-task score of chapter 4 (same states, seeds)."""
    from layerwise.measure.words import word_task_scores

    (gpt2, _), s = two_states
    post = measure_multi.postprocessing_table([gpt2], s, methods=("raw",))
    ch4 = word_task_scores(tiny_gpt2, ("wrapped",), s, tasks=("rg65",))
    mine = post[post["task"] == "rg65"].sort_values("layer")
    theirs = ch4[ch4["top"] == "native"].sort_values("layer")
    np.testing.assert_allclose(mine["value"], theirs["value"])
    np.testing.assert_allclose(mine["low"], theirs["low"])
    # and both are scipy's Spearman of numpy cosines on the same states
    np.testing.assert_allclose(mine["value"], _plain_task_scores(gpt2, "rg65"), atol=1e-9)


def test_compare_rejects_duplicate_and_empty_sources(tmp_path):
    from layerwise.pipeline.config import RunConfig

    cfg = RunConfig(profile="tiny", scale="reduced")
    with pytest.raises(InputError):
        pipeline_compare.run_compare([], cfg, tmp_path)
    with pytest.raises(InputError, match="twice"):
        pipeline_compare.run_compare(["tiny:gpt2", "tiny:gpt2"], cfg, tmp_path)


def test_compare_tables_warm_loads_no_states(two_states, tiny_gpt2, tiny_clip, monkeypatch):
    """The four tables are cached: a warm call loads no states and returns the same frames;
    another model order misses the tables but reads each model's cached share of them
    (still no states), so its per-model tables are the same rows in the new order. And the
    cached numbers are the measurements: the raw
    postprocessing scores of RG65 and STS-B at every layer, and the paired table's raw
    scores, layers and differences, equal scipy's Spearman of numpy cosines computed here."""
    states, s = two_states  # the states are in this cache already; no table is
    cold = measure_multi.compare_tables([tiny_gpt2, tiny_clip], s)
    assert set(cold) == set(measure_multi.COMPARE_TABLES)

    def no_states(*args, **kwargs):
        raise AssertionError("a warm run must not load states")

    monkeypatch.setattr(measure_multi, "load_states", no_states)
    monkeypatch.setattr(measure_multi, "gather_states", no_states)
    warm = measure_multi.compare_tables([tiny_gpt2, tiny_clip], s)
    for name in measure_multi.COMPARE_TABLES:
        pd.testing.assert_frame_equal(warm[name], cold[name], check_dtype=False)
    misses = s.cache.counts["tables"]["computed"]
    swapped = measure_multi.compare_tables([tiny_clip, tiny_gpt2], s)  # another model order
    assert s.cache.counts["tables"]["computed"] == misses + 4  # the four tables: a miss
    for name in ("isotropy", "rogue_dimensions", "postprocessing"):
        a, b = (cold[name][cold[name]["model"] == ms.name] for ms in states)
        want = pd.concat([b, a], ignore_index=True)
        pd.testing.assert_frame_equal(swapped[name], want, check_dtype=False)
    flipped = swapped["paired_differences"]
    assert (flipped["model_a"] == states[1].name).all()
    np.testing.assert_allclose(
        flipped["difference"], -cold["paired_differences"]["difference"], atol=1e-12
    )

    post, paired = warm["postprocessing"], warm["paired_differences"]
    rho = {(ms.name, t): _plain_task_scores(ms, t) for ms in states for t in ("rg65", "stsb")}
    for (name, task), want in rho.items():
        got = post[
            (post["model"] == name)
            & (post["method"] == "raw")
            & (post["task"] == task)
            & (post["setting"] == ("eos" if task == "stsb" else "wrapped"))
        ].sort_values("layer")
        np.testing.assert_allclose(got["value"], want, rtol=0, atol=1e-9)
    a, b = states
    for task in ("rg65", "stsb"):
        ra, rb = rho[(a.name, task)], rho[(b.name, task)]
        for choice, la, lb in (
            ("best", int(np.argmax(ra)), int(np.argmax(rb))),
            ("top", a.n_layers, b.n_layers),
        ):
            row = paired[
                (paired["method"] == "raw")
                & (paired["task"] == task)
                & (paired["choice"] == choice)
            ]
            assert len(row) == 1
            row = row.iloc[0]
            assert (row["layer_a"], row["layer_b"]) == (la, lb)
            assert row["difference"] == pytest.approx(ra[la] - rb[lb], abs=1e-9)


# ------------------------------------------------------------------ values recomputed here
@pytest.fixture(scope="module")
def two_states(tmp_path_factory, tiny_gpt2, tiny_clip):
    """The states chapter 7 measures, for tiny GPT-2 (model A) and tiny CLIP (model B)."""
    from layerwise.measure.common import MeasureOptions

    cache = Cache(tmp_path_factory.mktemp("compare-cache"))
    s = MeasureOptions(n_cwe=60, n_resamples=20, cache=cache, progress=False)
    return measure_multi.load_states([tiny_gpt2, tiny_clip], s), s


def _plain_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine per layer, [n, L, d] -> [n, L], in float64; two identical vectors
    have cosine exactly 1 (by definition, so identical sentences tie exactly)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    cos[(a == b).all(-1)] = 1.0
    return cos


def _plain_task_scores(ms, task: str) -> np.ndarray:
    """Spearman's rho per layer (scipy) of the task's cosines against its human target,
    from the model's states and the data files only."""
    from scipy import stats

    from layerwise.measure.words import all_task_words

    if task == "stsb":
        pairs = data.load_sts_benchmark()
        row = {t: i for i, t in enumerate(data.sts_benchmark_sentences(pairs))}
        x = ms.sentences["eos"].states  # every layer: small tiny-model states
        a = x[[row[p.sentence1] for p in pairs]]
        b = x[[row[p.sentence2] for p in pairs]]
    else:
        pairs = data.load_word_pairs(task)
        row = {w: i for i, w in enumerate(all_task_words())}  # the rows of ms.words
        a = ms.words.states[[row[p.word1] for p in pairs]]
        b = ms.words.states[[row[p.word2] for p in pairs]]
    cos = _plain_cosines(a, b)
    target = np.array([p.score for p in pairs])
    rho = np.array([stats.spearmanr(cos[:, k], target).statistic for k in range(cos.shape[1])])
    assert rho.shape == (ms.n_layers + 1,) and np.isfinite(rho).all()
    return rho


@pytest.fixture(scope="module")
def raw_paired(two_states):
    states, s = two_states
    return measure_multi.paired_table(states, s, methods=("raw",))


@pytest.mark.parametrize("task", ["rg65", "stsb"])
def test_paired_table_scores_layers_and_differences_recomputed_here(two_states, raw_paired, task):
    """score_a / score_b at the chosen layers are scipy's Spearman of numpy cosines, "best"
    is the argmax of those (lowest layer on ties), "top" the last layer, and the difference
    is score_a - score_b computed here (not by the function that made the table)."""
    (a, b), _ = two_states
    rho_a, rho_b = _plain_task_scores(a, task), _plain_task_scores(b, task)
    for choice in ("best", "top"):
        rows = raw_paired[(raw_paired["task"] == task) & (raw_paired["choice"] == choice)]
        assert len(rows) == 1
        row = rows.iloc[0]
        assert (row["model_a"], row["model_b"]) == (a.name, b.name)
        if choice == "best":
            la, lb = int(np.argmax(rho_a)), int(np.argmax(rho_b))
        else:
            la, lb = a.n_layers, b.n_layers
        assert (row["layer_a"], row["layer_b"]) == (la, lb)
        assert row["score_a"] == pytest.approx(rho_a[la], abs=1e-9)
        assert row["score_b"] == pytest.approx(rho_b[lb], abs=1e-9)
        assert row["difference"] == pytest.approx(rho_a[la] - rho_b[lb], abs=1e-9)
        assert row["low"] <= row["difference"] <= row["high"]
        assert row["n"] == DATASETS[task].count


def _plain_uniformity(x: np.ndarray) -> float:
    """Wang & Isola (2020): log of the mean over pairs i < j of exp(-2 |u_i - u_j|^2)."""
    u = x.astype(np.float64)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    i, j = np.triu_indices(len(u), k=1)
    sq = ((u[i] - u[j]) ** 2).sum(-1)
    return float(np.log(np.mean(np.exp(-2.0 * sq))))


def test_isotropy_table_values_recomputed_here(two_states):
    """IsoScore (the authors' IsoScore 2.0.1 package), uniformity, self-similarity (numpy)
    of every layer of the CWE sample, and alignment of the STS-B pairs with gold >= 4, for
    both models; every uniformity lies in the bounds derived by hand."""
    from IsoScore.IsoScore import IsoScore as reference

    states, s = two_states
    iso = measure_multi.isotropy_table(states, s)

    def value(ms, sample, measure, layer) -> float:
        sel = iso[
            (iso["model"] == ms.name)
            & (iso["sample"] == sample)
            & (iso["measure"] == measure)
            & (iso["layer"] == layer)
        ]
        assert len(sel) == 1
        return float(sel["value"].iloc[0])

    pairs = data.load_sts_benchmark()
    row = {t: i for i, t in enumerate(data.sts_benchmark_sentences(pairs))}
    close = [p for p in pairs if p.score >= 4.0]
    for ms in states:
        for layer in range(ms.n_layers + 1):
            x = ms.cwe.layer(layer).astype(np.float64)
            assert value(ms, "cwe", "uniformity", layer) == pytest.approx(
                _plain_uniformity(x), abs=1e-6
            )  # the package sums float32 terms
            assert value(ms, "cwe", "isoscore", layer) == pytest.approx(
                float(reference(x)), abs=1e-6
            )
            u = x / np.linalg.norm(x, axis=1, keepdims=True)
            cos = u @ u.T
            n = len(u)
            self_sim = (cos.sum() - np.trace(cos)) / (n * (n - 1))
            assert value(ms, "cwe", "self_similarity", layer) == pytest.approx(self_sim, abs=1e-6)
        top = ms.n_layers
        e = ms.sentences["eos"].layer(top).astype(np.float64)
        ua = e[[row[p.sentence1] for p in close]]
        ub = e[[row[p.sentence2] for p in close]]
        ua /= np.linalg.norm(ua, axis=1, keepdims=True)
        ub /= np.linalg.norm(ub, axis=1, keepdims=True)
        want = float(np.mean(((ua - ub) ** 2).sum(-1)))
        assert value(ms, "sentences eos", "alignment", top) == pytest.approx(want, abs=1e-6)
    # For unit vectors |u - v|^2 lies in [0, 4]: uniformity in [-8, 0]. And since
    # |sum u|^2 >= 0, the mean cosine over pairs is >= -1/(n-1); exp is convex (Jensen),
    # so uniformity >= 4 * (-1/(n-1)) - 4. Slack 1e-6 for the float32 sums.
    uni = iso[iso["measure"] == "uniformity"]
    assert (uni["value"] <= 1e-6).all()
    assert (uni["value"] >= -4.0 - 4.0 / (uni["n"] - 1) - 1e-6).all()


def test_compare_refuses_two_sources_of_the_same_weights(tiny_folder, tmp_path, monkeypatch):
    """Used to: ``compare`` accepted a folder and a symlink to it as two models, compared
    the model with itself and recorded one model in provenance."""
    folder = tiny_folder(tmp_path / "model")
    link = tmp_path / "link"
    link.symlink_to(folder, target_is_directory=True)

    def extracting(*args, **kwargs):
        pytest.fail("compare extracted the same weights twice")

    monkeypatch.setattr(pipeline_compare, "compare_tables", extracting)
    cfg = RunConfig(profile="tiny", scale="reduced", device="cpu", cache_dir=str(tmp_path / "c"))
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        pipeline_compare.run_compare([str(folder), str(link)], cfg, out, log=lambda m: None)
    message = one_line(err.value)
    assert repr(str(folder)) in message and repr(str(link)) in message
    assert "same weights" in message and "Remedy" in message
    assert not list(out.glob("*.csv"))


# ------------------------------------------------------------------ short windows
TINY = ("tiny:gpt2", "tiny:clip", "tiny:bert")


def _short_window_gpt2(folder, window: int):
    """A tiny random GPT-2 (2 layers of 32) whose window is ``window`` positions, with a
    WordPiece tokenizer over single letters and a few whole words, so most words are
    spelled letter by letter: many STS sentences exceed a 64-token window, no task word
    does. No special tokens around a text (GPT-2's template)."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    words = "the a cat dog sat on mat and is in of to".split()
    pieces = ["<|endoftext|>", "<unk>", *letters, *(f"##{c}" for c in letters), *words]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(pieces))}
    backend = Tokenizer(models.WordPiece(vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        model_max_length=window,
    )
    config = GPT2Config(
        vocab_size=len(vocab),
        n_positions=window,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=0,
        eos_token_id=0,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = GPT2Model(config)
    folder.mkdir(parents=True)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _over(folder, texts, window: int, extra: int) -> set[str]:
    """The texts whose tokens (the folder's tokenizer.json, read with ``tokenizers``, no
    special tokens) plus ``extra`` exceed ``window``: counted here, not by the package."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return {
        t
        for t in texts
        if len(tok.encode(t.strip(), add_special_tokens=False).ids) + extra > window
    }


def test_compare_filters_every_text_set_to_a_64_token_window(tmp_path, capsys):
    """Used to: ``compare`` on a model with a 64-token window stopped after the CWE states
    with "428 input(s) exceed ... drop them with data.filter_to_window first", a step the
    command line cannot take. Now every set is filtered to every model's window: the tables
    are written, the log and provenance.json report each set's drops, and the counts equal
    the ones counted here with the model's own tokenizer (a sentence's eos input is the
    sentence between two added tokens, its mean input the sentence alone; a word's wrapped
    input the word between two added tokens). The tables measure the kept texts (their
    ``n``), and tiny GPT-2, CLIP and BERT drop nothing from STS-B or the words: their
    comparison reads the full sets and adds nothing to a cache key."""
    folder = _short_window_gpt2(tmp_path / "short64", 64)
    out = tmp_path / "out"
    argv = [
        "compare", str(folder), "tiny:gpt2", "--scale", "reduced", "--n-cwe", "120",
        "--n-resamples", "20", "--device", "cpu", "--cache-dir", str(tmp_path / "cache"),
        "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    logged = capsys.readouterr().out
    for name in measure_multi.COMPARE_TABLES:
        assert (out / f"{name}.csv").is_file()

    # counted here
    pairs = data.load_sts_benchmark()
    sentences = data.sts_benchmark_sentences(pairs)
    # the longest compared input: eos (open + sentence + close); mean adds no token here
    long = _over(folder, sentences, 64, extra=2)
    dropped_pairs = [p for p in pairs if p.sentence1 in long or p.sentence2 in long]
    close = [p for p in pairs if p.score >= 4.0]
    dropped_close = [p for p in close if p.sentence1 in long or p.sentence2 in long]
    cwe_texts = [x.text for x in data.load_sts_sentences()]
    cwe_long = _over(folder, cwe_texts, 64, extra=0)  # the native input: no added tokens
    from layerwise.measure.words import all_task_words

    assert not _over(folder, all_task_words(), 64, extra=2)
    assert len(long) > 100 and len(dropped_pairs) > 100  # the window matters here

    window = json.loads((out / "provenance.json").read_text())["isotropy"]["parameters"]["window"]
    short, tiny = "short64", "tiny GPT-2 (random)"
    want = {
        "STS-B test sentences": (len(sentences), len(long)),
        "STS-B test pairs": (len(pairs), len(dropped_pairs)),
        "STS-B test pairs with gold >= 4 (alignment)": (len(close), len(dropped_close)),
    }
    for name, (total, dropped) in want.items():
        rec = window[name]
        assert (rec["total"], rec["dropped"], rec["kept"]) == (total, dropped, total - dropped)
        assert rec["dropped_by_model"] == {short: dropped, tiny: 0}
        assert rec["limits"] == {short: 64, tiny: 1024}
        assert f"{name}: kept {total - dropped:,} of {total:,}" in logged
    cwe = window["STS 2012-2016 sentences (CWE sample)"]
    assert cwe["dropped_by_model"][short] == len(cwe_long) and cwe["dropped_by_model"][tiny] == 0
    for name, rec in window.items():
        if not name.startswith(("STS", "STS-B")):  # the task words and each task's items
            assert rec["dropped"] == 0 and set(rec["dropped_by_model"].values()) == {0}, name

    # the tables measure the kept texts
    n_pairs, n_sentences = len(pairs) - len(dropped_pairs), len(sentences) - len(long)
    post = pd.read_csv(out / "postprocessing.csv")
    assert (post.loc[post["task"] == "stsb", "n"] == n_pairs).all()
    assert (post.loc[post["task"] == "rg65", "n"] == 65).all()
    iso = pd.read_csv(out / "isotropy.csv")
    sent = iso[iso["sample"].str.startswith("sentences")]
    assert (sent.loc[sent["measure"] == "alignment", "n"] == len(close) - len(dropped_close)).all()
    assert (sent.loc[sent["measure"] != "alignment", "n"] == n_sentences).all()
    paired = pd.read_csv(out / "paired_differences.csv")
    assert (paired.loc[paired["task"] == "stsb", "n"] == n_pairs).all()
    assert paired["difference"].notna().any()

    # the tiny models' windows hold every STS-B sentence and word: nothing changes for them
    from layerwise.measure.common import MeasureOptions
    from layerwise.measure.multi_texts import compare_texts, full_texts

    s = MeasureOptions(n_cwe=120, n_resamples=20, cache=Cache(tmp_path / "cache"))
    tiny_models = [models_loading.load_model(x, device="cpu", lazy=True) for x in TINY]
    texts = compare_texts(tiny_models, s)
    assert texts.full and texts.key() == {}
    full = full_texts(texts.cwe)
    assert (texts.sentences, texts.pairs, texts.words) == (full.sentences, full.pairs, full.words)
    assert all(f.dropped == 0 for f in texts.filters[1:])


def test_compare_refuses_a_window_that_leaves_too_few_texts(tmp_path, monkeypatch):
    """Used to: a model whose window (8 tokens) holds almost no sentence stopped ``compare``
    with the CWE sampler's "cannot sample ... token positions" (or extraction's "drop them
    with data.filter_to_window first"), naming no text set and no remedy. Now the run stops
    before any model's states are measured, with one InputError naming each set left with
    too few items (the CWE sentences, the STS-B pairs), the model whose window drops them,
    the counts and the remedy."""
    folder = _short_window_gpt2(tmp_path / "short8", 8)

    def measuring(*args, **kwargs):
        pytest.fail("compare measured a model before refusing the texts")

    monkeypatch.setattr(pipeline_compare, "model_parts", measuring)
    cfg = RunConfig(
        profile="tiny", scale="reduced", device="cpu", cache_dir=str(tmp_path / "c"), n_cwe=120
    )
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        pipeline_compare.run_compare([str(folder), "tiny:gpt2"], cfg, out, log=lambda m: None)
    message = one_line(err.value)
    pairs = data.load_sts_benchmark()
    long = _over(folder, data.sts_benchmark_sentences(pairs), 8, extra=2)
    kept = sum(1 for p in pairs if p.sentence1 not in long and p.sentence2 not in long)
    assert kept < 10
    assert f"STS-B test pairs: {kept:,} of 1,379 pairs fit every window" in message
    assert f"dropped by short8: {1379 - kept:,}" in message
    assert (
        "STS 2012-2016 sentences (CWE sample)" in message
        and "fewer real tokens than the 120" in message
    )
    assert "short8: 8 tokens" in message and "tiny GPT-2 (random)" in message
    assert "Remedy: leave out short8 (a window too short" in message and "--n-cwe" in message
    assert not out.exists() or not list(out.glob("*.csv"))


def test_texts_without_some_words_keep_the_items_of_the_words_kept():
    """A word that does not fit a window takes out the items that need it, and only those:
    the pairs of a similarity task with both words kept (with their ratings), the ValNorm
    words kept (with their valence) and the attribute words kept, each as rows of the kept
    words; recomputed here from the data files."""
    from layerwise.measure.multi_texts import CompareTexts, full_texts
    from layerwise.measure.words import all_task_words

    full = full_texts(["A sentence."])
    words = tuple(w for w in all_task_words() if len(w) <= 6)  # as if longer words were long
    texts = CompareTexts(full.cwe, full.sentences, full.pairs, words)
    assert not texts.full and set(texts.key()) == {"texts"} and full.key() == {}
    assert texts.sentences == full.sentences and len(words) < len(all_task_words())
    kept = set(words)
    for task in ("rg65", "simlex999"):
        items = texts.task_items(task)
        pairs = [p for p in data.load_word_pairs(task) if {p.word1, p.word2} <= kept]
        assert 0 < len(pairs) < DATASETS[task].count
        assert [words[i] for i in items.rows[0]] == [p.word1 for p in pairs]
        assert [words[i] for i in items.rows[1]] == [p.word2 for p in pairs]
        np.testing.assert_array_equal(items.target, [p.score for p in pairs])
    items = texts.task_items("valnorm")
    lex = [w for w in data.load_valnorm() if w.word in kept]
    assert [words[i] for i in items.rows[0]] == [w.word for w in lex]
    np.testing.assert_array_equal(items.target, [w.valence for w in lex])
    assert [words[i] for i in items.rows[1]] == [w for w in data.PLEASANT if w in kept]
    assert [words[i] for i in items.rows[2]] == [w for w in data.UNPLEASANT if w in kept]
    # every task word kept: the items of chapter 4
    rg65 = full.task_items("rg65")
    assert len(rg65.target) == DATASETS["rg65"].count
