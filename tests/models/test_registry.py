"""Tests for layerwise.data.registry and layerwise.data.register: the dataset registry is
the single source of the datasets, their counts and labels, and a word-similarity set
registered at run time is a word task of chapters 4, 6 and 7 like the paper's."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from layerwise import data
from layerwise.data import reference
from layerwise.data.registry import DATASETS, VENDORED, Dataset, PairFormat
from layerwise.errors import DataError, InputError

#: Each kind's loader, returning the number of records it read.
READ = {
    "word_similarity": lambda key: len(data.load_word_pairs(key)),
    "valence": lambda key: len(data.load_valnorm()),
    "sts": lambda key: len(data.load_sts_benchmark()),
    "sentences": lambda key: data.count_sts_pairs(),
}


@pytest.mark.parametrize("key", list(DATASETS))
def test_each_loader_reads_its_registry_count(key):
    """The count a dataset's loader reads is its registry entry's (the only place a
    count is written); its label is the one tables and figures show."""
    d = DATASETS[key]
    assert READ[d.kind](key) == d.count
    assert reference.TASK_LABELS[key] == d.label


@pytest.mark.parametrize("key", data.word_similarity_tasks())
def test_each_word_pair_file_read_by_a_plain_split(key):
    """The loader's first and last pairs are the file's first and last lines, split here
    on the registry entry's separator (whitespace around fields removed)."""
    d = DATASETS[key]
    lines = [x for x in (data.dataset_dir() / d.path).read_text().splitlines() if x.strip()]
    pairs = data.load_word_pairs(key)
    for line, pair in ((lines[0], pairs[0]), (lines[-1], pairs[-1])):
        fields = [f.strip() for f in line.split(d.format.separator)]
        assert (pair.word1, pair.word2, pair.score) == (
            fields[0],
            fields[1],
            float(fields[d.format.score_field]),
        )


def test_every_dataset_cites_an_entry_of_the_bibliography():
    """Chapter 1 and the data page cite each dataset by its registry ``citation`` key."""
    from layerwise.files import repository_root

    root = repository_root(Path(__file__).parent)
    if root is None:
        pytest.skip("not a checkout: book/references.bib is not installed")
    bib = (root / "book" / "references.bib").read_text(encoding="utf-8")
    for d in DATASETS.values():
        assert re.search(rf"^@\w+{{{re.escape(d.citation)},", bib, re.M), d.citation


#: Words the tiny models' tokenizers (GPT-2's and CLIP's) split into known subtokens;
#: ratings chosen by hand, 0-10.
EXTRA_PAIRS = [
    ("cat", "dog", 7.2),
    ("car", "automobile", 9.5),
    ("bread", "butter", 6.1),
    ("king", "queen", 8.0),
    ("river", "stone", 2.3),
    ("happy", "glad", 9.0),
    ("table", "cloud", 0.8),
    ("music", "song", 8.4),
    ("winter", "snow", 7.7),
    ("money", "flower", 0.5),
]


def _extra(tmp_path: Path, key: str = "extra10", pairs=EXTRA_PAIRS, **changes) -> Dataset:
    path = tmp_path / f"{key}.txt"
    path.write_text("".join(f"{a}|{b}|{r}\n" for a, b, r in pairs), encoding="utf-8")
    fields = dict(
        key=key,
        label="EXTRA10",
        title="ten hand-made pairs",
        kind="word_similarity",
        metric="spearman",
        path=str(path),
        count=len(pairs),
        source="this test",
        citation="",
        licence="CC0",
        format=PairFormat("|", 3, 2, "'word1|word2|score'"),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
    )
    return Dataset(**(fields | changes))


def test_registered_dataset_loads_and_leaves_no_trace(tmp_path):
    from layerwise.measure.words import word_tasks
    from layerwise.store.cached import value_key

    before = (dict(DATASETS), word_tasks(), value_key("t", "layerwise.stats.geometry", a=1))
    with data.registered(_extra(tmp_path)) as (entry,):
        assert data.word_similarity_tasks()[-1] == "extra10"
        assert data.WORD_SIMILARITY_TASKS == data.word_similarity_tasks()
        assert word_tasks() == (*before[1][:-1], "extra10", "valnorm")
        assert reference.TASK_LABELS["extra10"] == "EXTRA10"
        pairs = data.load_word_pairs("EXTRA10")  # by label, like the paper's
        assert pairs[1] == data.WordPair("car", "automobile", 9.5)
        assert [(p.word1, p.word2, p.score) for p in pairs] == EXTRA_PAIRS
        assert Path(entry.path).is_absolute()
        # cached values are keyed by it
        assert value_key("t", "layerwise.stats.geometry", a=1) != before[2]
        assert data.overview()[-1]["dataset"] == "ten hand-made pairs"
    assert (dict(DATASETS), word_tasks(), value_key("t", "layerwise.stats.geometry", a=1)) == before


def test_register_checks_the_file_digest_count_and_key(tmp_path):
    good = _extra(tmp_path)
    with pytest.raises(DataError, match="not the"):
        data.register_dataset(_extra(tmp_path, sha256="0" * 64))
    with pytest.raises(DataError, match="expected 11 word pairs, found 10"):
        data.register_dataset(_extra(tmp_path, count=11))
    with pytest.raises(InputError, match="already registered"):
        data.register_dataset(_extra(tmp_path, key="rg65"))
    with pytest.raises(InputError, match="sha256"):
        data.register_dataset(_extra(tmp_path, sha256=""))
    with pytest.raises(InputError, match="kind"):
        data.register_dataset(_extra(tmp_path, kind="sts"))
    with pytest.raises(InputError, match="vendored"):
        data.unregister_dataset("rg65")
    assert set(DATASETS) == VENDORED  # nothing failed half-way into the registry
    data.register_dataset(good)
    try:
        # the file is checked again at every read: an edit after registering is an error
        Path(good.path).write_text("cat|dog|1\n" * 10, encoding="utf-8")
        with pytest.raises(DataError, match="checksum mismatch"):
            data.load_word_pairs("extra10")
    finally:
        data.unregister_dataset("extra10")
    assert set(DATASETS) == VENDORED


@pytest.fixture
def extra(tmp_path):
    with data.registered(_extra(tmp_path)) as (entry,):
        yield entry
    assert "extra10" not in DATASETS


def _plain_rho(lm, s, pairs, setting: str) -> np.ndarray:
    """Spearman's rho per layer (scipy) of the pairs' cosines (numpy) against their
    ratings, on the states of the words of every word task (the table's extraction)."""
    from scipy import stats

    from layerwise.measure.words import all_task_words, word_states

    words = all_task_words()
    x = word_states(lm, words, (setting,), s)[setting].states.astype(np.float64)
    row = {w: i for i, w in enumerate(words)}
    a, b = x[[row[p[0]] for p in pairs]], x[[row[p[1]] for p in pairs]]
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    target = [p[2] for p in pairs]
    return np.array([stats.spearmanr(cos[:, k], target).statistic for k in range(cos.shape[1])])


def test_extra_task_runs_through_the_word_task_table_table1_and_figure(
    extra, tiny_gpt2, tiny_clip, tmp_path
):
    """With a registered set: chapter 4's table scores it (values recomputed here), Table 1
    gives it rows without a paper number, the claims run, and the word-task figure draws it
    with no paper marker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from layerwise.measure.common import MeasureOptions
    from layerwise.measure.words import word_task_scores
    from layerwise.report import figures, table1
    from layerwise.store.cache import Cache

    s = MeasureOptions(n_resamples=20, cache=Cache(tmp_path / "cache"), progress=False)
    words = {
        "causal": word_task_scores(tiny_gpt2, ("bare", "wrapped", "eos"), s),
        "contrastive": word_task_scores(tiny_clip, ("wrapped", "eos"), s),
    }
    for role, df in words.items():
        assert "extra10" in set(df["task"])
        mine = df.query("task == 'extra10' and setting == 'wrapped' and top == 'native'")
        assert (mine["n"] == 10).all()
        lm = tiny_gpt2 if role == "causal" else tiny_clip
        want = _plain_rho(lm, s, EXTRA_PAIRS, "wrapped")
        np.testing.assert_allclose(mine.sort_values("layer")["value"], want, atol=1e-9)

    t1 = table1.table1(words)
    extra_rows = t1[t1["task"] == "extra10"]
    assert set(extra_rows["row"]) == set(reference.TABLE1_ROWS)
    assert extra_rows[["paper_best", "paper_top", "diff_best"]].isna().all().all()
    assert (extra_rows["note"].str.startswith("not in the paper")).all()
    paper_rows = t1[t1["task"].isin(reference.TABLE1_TASKS)]
    assert len(paper_rows) == 25 and paper_rows["paper_best"].notna().all()
    assert t1[~t1["task"].isin(reference.TABLE1_TASKS)]["paper_best"].isna().all()
    cells = table1.format_table1(t1)
    assert cells.loc["CLIP", ("EXTRA10", "best")].endswith("[not in the paper]")
    claims = table1.claim_checks(
        {"word_tasks": pd.concat([df.assign(role=role) for role, df in words.items()])}
    )
    # the paper's six word-task claims (RG65 and ValNorm best, CLIP beats GPT-2, BOS helps,
    # EOS at the top on ValNorm and RG65), over its own tasks: the extra task is not read
    assert len(claims) == 6 and claims["reproduced"].notna().all()

    tasks = list(data.word_similarity_tasks())
    both = pd.concat([df.assign(role=role) for role, df in words.items()])
    fig = figures.word_task_figure(both, tasks, paper_best=True)
    axes = {ax.get_title(): ax for ax in fig.axes if ax.get_visible()}
    reported = set(reference.TABLE1_TASKS)
    assert axes.keys() == {
        reference.TASK_LABELS[t] + ("" if t in reported else " (not in the paper)") for t in tasks
    }

    def markers(ax) -> int:  # the paper's best-layer markers: lines with a marker only
        return sum(1 for line in ax.get_lines() if line.get_linestyle() == "None")

    assert markers(axes["EXTRA10 (not in the paper)"]) == 0
    assert markers(axes["RG65"]) == len(reference.TABLE1)
    plt.close(fig)


def test_extra_task_runs_through_chapter_seven_compare_tables(
    extra, tiny_gpt2, tiny_clip, tmp_path
):
    """Chapter 7's tables with a registered set: its postprocessing rows and its paired
    rows are there, the raw score is the one recomputed here, and the verdicts count it."""
    from layerwise.measure import multi
    from layerwise.measure.common import MeasureOptions
    from layerwise.report import comparison
    from layerwise.store.cache import Cache

    s = MeasureOptions(n_cwe=40, n_resamples=20, cache=Cache(tmp_path / "cache"), progress=False)
    sentences = [x.text for x in data.load_sts_sentences(years=[2012])[:80]]
    parts = [multi.model_parts(lm, sentences, s) for lm in (tiny_gpt2, tiny_clip)]
    tables = multi.compare_tables([tiny_gpt2, tiny_clip], s, parts=parts)
    post = tables["postprocessing"]
    raw = post.query("task == 'extra10' and method == 'raw'")
    assert set(raw["model"]) == {tiny_gpt2.spec.name, tiny_clip.spec.name}
    want = _plain_rho(tiny_gpt2, s, EXTRA_PAIRS, "wrapped")
    got = raw[raw["model"] == tiny_gpt2.spec.name].sort_values("layer")["value"]
    np.testing.assert_allclose(got, want, atol=1e-9)
    paired = tables["paired_differences"]
    assert set(paired[paired["task"] == "extra10"]["choice"]) == {"best", "top"}
    counts = comparison.advantage_counts(paired, "best", None)
    n_tasks = len(data.word_similarity_tasks()) + 2  # + ValNorm + STS-B
    assert (counts.sum(axis=1) == n_tasks).all()


def test_narration_counts_follow_the_registry(extra):
    """Chapters 1, 4 and 7 state the counts of the registry, a registered set included."""
    from types import SimpleNamespace

    from layerwise.measure.words import word_tasks
    from layerwise.report.prose import beyond, common, datasets
    from layerwise.report.prose import word_tasks as ch4

    assert (common.count_word(5), common.count_word(10), common.count_word(12)) == (
        "five",
        "ten",
        "12",
    )
    pair = SimpleNamespace(sentence1="a", sentence2="b")
    text = datasets.files_texts({}, [pair])["word_counts"]
    pairs = [f"{DATASETS[k].count:,}" for k in data.word_similarity_tasks()]
    assert text.startswith(", ".join(pairs[:-1]) + " and 10 word pairs, ")
    assert text.endswith(f"{DATASETS['valnorm'].count} valence words")
    n = len(word_tasks())
    words = pd.DataFrame({"value": [0.1], "layer": [0], "top": ["native"], "setting": ["x"]})
    words = words.assign(task="extra10", model="m")
    assert ch4.scores_texts(words, 10, "tiny")["n_word_tasks"] == common.count_word(n)
    paired = pd.DataFrame(columns=["model_a", "model_b", "method", "task", "choice", "low"])
    told = beyond.paired_texts(paired.assign(high=[]))
    assert (told["b7_n_word_tasks"], told["b7_n_tasks"]) == (
        common.count_word(n),
        common.count_word(n + 1),
    )
