"""Reliability of the data, inputs and result files (issue 6): one test per failure mode.

Each test provokes one misstep a user could make (a deleted data file, a trailing space, a
NaN layer, a truncated provenance.json, a full disk...) and checks the error type, its
message, and that nothing was written or lost. The vendored datasets are never modified:
tests work on a copy (``data_copy``).
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import layerwise.extract.requests as extract_requests
import layerwise.extract.states as extract_states
import layerwise.report.provenance as report_provenance
import layerwise.report.table1 as report_table1
import layerwise.report.text as report_text
import layerwise.stats.correlation as stats_correlation
import layerwise.stats.scores as stats_scores
from layerwise import data, experiments
from layerwise.data import integrity, reference
from layerwise.errors import DataError, InputError, LayerwiseError, OutputError
from layerwise.measure.common import MeasureOptions

IMAGES_2014 = "semeval-sts/2014/images.test.tsv"


@pytest.fixture
def data_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the vendored datasets; every loader is pointed at it."""
    target = tmp_path / "datasets"
    shutil.copytree(data.dataset_dir(), target, copy_function=shutil.copyfile)
    for folder, _dirs, files in os.walk(target):
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(os.path.join(folder, name), 0o644)
    monkeypatch.setattr(data.integrity, "DATA_DIR", target)
    return target


def _relist(root: Path, rel: str) -> None:
    """Record the current checksum of ``rel`` in the copy's SHA256SUMS."""
    digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    sums = root / "SHA256SUMS"
    lines = [ln for ln in sums.read_text().splitlines() if not ln.endswith(f"  ./{rel}")]
    sums.write_text("\n".join([*lines, f"{digest}  ./{rel}"]) + "\n")


def _fingerprint(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


# ------------------------------------------------------------------ 1. data completeness
def test_a_deleted_listed_file_fails_every_loader_naming_it(data_copy: Path) -> None:
    (data_copy / IMAGES_2014).unlink()
    before = _fingerprint(data_copy)
    for load in (data.load_sts_sentences, lambda: data.load_word_pairs("rg65")):
        with pytest.raises(DataError) as info:
            load()
        message = str(info.value)
        assert message.startswith(f"{IMAGES_2014}: data file not found")
        assert "git checkout -- src/layerwise/datasets/" in message and "reinstall" in message
    assert _fingerprint(data_copy) == before  # the loaders wrote nothing
    assert (data.integrity._PACKAGED / IMAGES_2014).is_file()  # the real data is untouched


def test_an_altered_file_fails_a_loader_of_another_file(data_copy: Path) -> None:
    path = data_copy / "word-similarity/rg65.csv"
    path.write_bytes(path.read_bytes().replace(b"cord", b"c0rd", 1))
    with pytest.raises(DataError, match=r"^word-similarity/rg65\.csv: checksum mismatch"):
        data.load_valnorm()


def test_a_count_mismatch_is_a_data_error_even_with_matching_checksums(
    data_copy: Path,
) -> None:
    lines = (data_copy / IMAGES_2014).read_text(encoding="utf-8").splitlines(keepends=True)
    (data_copy / IMAGES_2014).write_text("".join(lines[:-1]), encoding="utf-8")
    _relist(data_copy, IMAGES_2014)  # a consistent but shortened copy
    with pytest.raises(DataError, match="expected 26,775 sentence pairs, found 26,774"):
        data.load_sts_sentences()
    with pytest.raises(DataError, match="expected 26,775 sentence pairs, found 26,774"):
        data.count_sts_pairs()
    assert len(data.load_sts_sentences(years=[2012])) > 0  # a subset has no fixed total


def test_loaders_return_the_documented_counts() -> None:
    # the record counts of the registry's datasets: tests/test_registry.py
    assert (len(data.PLEASANT), len(data.UNPLEASANT)) == (25, 25)
    stsb = data.load_sts_benchmark()
    assert len(data.sts_benchmark_sentences(stsb)) == 2552
    assert len(data.load_sts_sentences()) == 39404


def test_each_file_is_hashed_once_per_process(
    data_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = time.time() - 3600  # past the memo's two-second window for fresh files
    for path in data_copy.rglob("*"):
        os.utime(path, (old, old))
    calls: list[int] = []
    real = hashlib.sha256

    def counting(*args):
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(integrity.hashlib, "sha256", counting)
    integrity._CHECKSUM_CACHE.clear()
    data.load_valnorm()
    listed = (data_copy / "SHA256SUMS").read_text().split("\n")
    n_listed = len([line for line in listed if line.strip()])
    assert len(data.dataset_checksums()) == n_listed
    assert len(calls) == n_listed  # every listed file, once
    data.load_valnorm()
    data.load_word_pairs("rg65")
    assert len(calls) == n_listed  # no file hashed again


def test_the_data_package_keeps_every_public_name() -> None:
    for name in data.__all__:
        assert hasattr(data, name), name
    assert (
        data.dataset_dir() == data.integrity._PACKAGED
        or (data.dataset_dir() / "SHA256SUMS").is_file()
    )
    assert (data.dataset_dir() / "SHA256SUMS").is_file()  # the datasets ship with the package


# ------------------------------------------------------------------ 2. inputs
def test_words_and_sentences_are_stripped_and_blank_ones_refused(tiny_gpt2) -> None:
    lm = tiny_gpt2
    assert extract_requests.word_requests(lm, ["cat "], "bare") == extract_requests.word_requests(
        lm, ["cat"], "bare"
    )
    assert extract_requests.sentence_requests(lm, [" A dog runs.\n"], "last") == (
        extract_requests.sentence_requests(lm, ["A dog runs."], "last")
    )
    assert extract_requests.native_inputs(lm, ["A dog.  "]) == extract_requests.native_inputs(
        lm, ["A dog."]
    )
    with pytest.raises(InputError, match=r"word 1 must be a non-empty string, got ' \\t '"):
        extract_requests.word_requests(lm, ["cat", " \t "], "wrapped")
    with pytest.raises(InputError, match="sentence 0 must be a non-empty string"):
        extract_requests.sentence_requests(lm, ["   "], "eos")
    with pytest.raises(InputError, match="single string"):
        extract_requests.sentence_requests(lm, "A dog runs.", "eos")


def test_word_states_keeps_order_and_repeats_and_refuses_a_bare_string(tiny_gpt2) -> None:
    s = MeasureOptions(cache=None, progress=False)
    out = experiments.word_states(tiny_gpt2, ["dog", "cat ", "dog"], ["bare", "eos"], s)
    alone = experiments.word_states(tiny_gpt2, ["cat"], ["bare", "eos"], s)
    for setting in ("bare", "eos"):
        states = out[setting].states
        assert states.shape[0] == 3
        assert np.array_equal(states[0], states[2])  # the repeat is kept, same vector
        np.testing.assert_allclose(states[1], alone[setting].states[0], atol=1e-5)
        assert not np.allclose(states[0], states[1])
    with pytest.raises(InputError, match="single string 'dog'"):
        experiments.word_states(tiny_gpt2, "dog", ["bare"], s)


@pytest.mark.parametrize(
    ("call", "choices"),
    [
        (lambda lm, s: experiments.word_states(lm, ["dog"], ["bogus"], s), "bare"),
        (lambda lm, s: experiments.word_task_scores(lm, ("bare",), s, tasks=("men",)), "rg65"),
        (lambda lm, s: experiments.sts_benchmark_scores(lm, ("bogus",), s), "last"),
        (lambda lm, s: experiments.sentence_self_similarity(lm, ("bogus",), s), "mean"),
        (lambda lm, s: experiments.sentence_states(lm, ["A dog."], "bogus", s), "eos"),
    ],
)
def test_unknown_settings_are_input_errors_listing_the_choices(
    tiny_gpt2, tmp_path: Path, call, choices: str
) -> None:
    s = MeasureOptions(cache=None, progress=False)
    with pytest.raises(InputError, match=r"unknown .* setting\(s\) \['(bogus|men)'\]") as info:
        call(tiny_gpt2, s)
    assert "choose from" in str(info.value) and choices in str(info.value)


def test_an_unknown_cwe_measure_is_an_input_error(tiny_gpt2) -> None:
    ex = extract_states.Extracted(np.ones((3, tiny_gpt2.spec.n_states, 4), np.float32), None)
    with pytest.raises(InputError, match=r"unknown CWE measure setting\(s\) \['bogus'\]"):
        experiments.cwe_geometry(ex, tiny_gpt2, ["bogus"])


# ------------------------------------------------------------------ 3. undefined results
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


# ------------------------------------------------------------------ 4. ties
def _scores_of_cosines(cos: np.ndarray, human: np.ndarray, monkeypatch) -> list:
    monkeypatch.setattr(stats_scores, "cosine_rows", lambda a, b: cos)
    dummy = np.ones((len(cos), 2))
    return stats_scores.word_similarity_scores(dummy, dummy, human)


def test_cosines_one_ulp_apart_rank_as_ties(monkeypatch) -> None:
    human = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    exact = np.array([0.3, 0.3, 0.1, 0.7, 0.7])
    nudged = exact.copy()
    nudged[1] = np.nextafter(0.3, 1.0)  # one ulp above its twin
    nudged[3] = np.nextafter(0.7, 0.0)  # one ulp below its twin
    rho_exact = _scores_of_cosines(exact, human, monkeypatch)[0].value
    rho_nudged = _scores_of_cosines(nudged, human, monkeypatch)[0].value
    # by hand: ranks (2.5, 2.5, 1, 4.5, 4.5) against (1..5): rho = 6 / sqrt(9 * 10)
    assert rho_exact == pytest.approx(6 / np.sqrt(90))
    assert rho_nudged == rho_exact
    # without snapping the nudged values would be ranked (2, 3, 1, 4, 5): rho = 7 / 10
    assert stats_correlation.spearman_statistic(nudged, human) == pytest.approx(0.7)


def test_near_constant_cosines_give_an_undefined_correlation(monkeypatch) -> None:
    base = 0.5
    cos = np.array([base, np.nextafter(base, 1), base, np.nextafter(base, 0), base])
    score = _scores_of_cosines(cos, np.arange(5.0), monkeypatch)[0]
    assert np.isnan(score.value)
    snapped = stats_scores.snap_near_ties(np.array([[0.1, 0.1 + 1e-9], [0.2, 0.2]]), axis=-1)
    assert snapped[0, 0] != snapped[0, 1]  # 1e-9 is a real difference, kept


# ------------------------------------------------------------------ 5. the authors' STS-B read
def test_the_authors_sts_b_read_gives_1273_pairs() -> None:
    pairs = data.load_sts_benchmark_quoted()
    assert len(pairs) == 1273
    first = pairs[0]
    assert (first.sid, first.score, first.sentence1) == ("0024", 2.5, "A girl is styling her hair.")
    # a quote opened in MSRpar 0070 swallows the next line; commas are dropped by the join
    merged = next(p for p in pairs if p.file == "MSRpar" and p.sid == "0070")
    assert merged.sentence1.startswith('"We believe we are fully prepared')
    assert merged.sentence2.endswith("Board of Elections.\nmain-news")
    # outside quotes the comma is the reader's delimiter, and the join drops it (file line 99)
    line99 = next(p for p in pairs if p.file == "MSRvid" and p.sid == "0622")
    assert line99.sentence1 == "Three young men run jump and kick off of a Coke machine."


# ------------------------------------------------------------------ 6. result files
def test_a_truncated_provenance_is_set_aside_and_rewritten(tmp_path: Path) -> None:
    df = pd.DataFrame({"layer": [0, 1], "value": [0.5, np.nan]})
    report_provenance.write_table(df, tmp_path, "first", {"seed": 0})
    prov = tmp_path / "provenance.json"
    broken = prov.read_bytes()[:10]
    prov.write_bytes(broken)
    with pytest.warns(UserWarning, match=r"provenance\.json cannot be read.*corrupt-"):
        report_provenance.write_table(df, tmp_path, "second", {"seed": 1})
    (aside,) = tmp_path.glob("provenance.json.corrupt-*")
    assert aside.read_bytes() == broken  # nothing lost
    assert json.loads(prov.read_text()) == {"second": {"seed": 1}}
    assert pd.read_csv(tmp_path / "second.csv").equals(df)
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_failed_write_changes_nothing_and_names_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    df = pd.DataFrame({"layer": [0], "value": [0.5]})
    report_provenance.write_table(df, tmp_path, "table", {"seed": 0})
    before = _fingerprint(tmp_path)

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report_provenance.os, "fsync", full_disk)
    with pytest.raises(OutputError) as info:
        report_provenance.write_table(pd.DataFrame({"layer": [9]}), tmp_path, "table", {"seed": 9})
    message = str(info.value)
    assert str(tmp_path / "table.csv") in message and "No space left" in message
    assert "another output folder" in message and isinstance(info.value, LayerwiseError)
    assert _fingerprint(tmp_path) == before  # old CSV and provenance intact, no temp files


def test_an_output_folder_that_cannot_be_created_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(OutputError, match=r"cannot write .*results"):
        report_provenance.write_table(pd.DataFrame({"a": [1]}), blocker / "tiny", "t", {})
    assert blocker.read_text() == "a file where the folder should be"
