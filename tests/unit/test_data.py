"""Tests for layerwise.data: counts and records checked by hand against the raw files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from layerwise import data
from layerwise.data import reference
from layerwise.errors import DataError, InputError, LayerwiseError

# ---------------------------------------------------------------------------------------------
# Helpers: a writable copy of the datasets folder
# ---------------------------------------------------------------------------------------------


def rewrite(root: Path, rel: str, text: str) -> None:
    """Replace a file of the copy and record its new checksum in the copy's SHA256SUMS."""
    path = root / rel
    path.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    sums = root / "SHA256SUMS"
    lines = sums.read_text(encoding="utf-8").splitlines()
    lines = [line for line in lines if not line.endswith(f"  ./{rel}")]
    lines.append(f"{digest}  ./{rel}")
    sums.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# Word similarity
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", data.word_similarity_tasks())
def test_word_pairs_are_stripped_pairs(name: str) -> None:
    # the counts: tests/models/test_registry.py, against the registry
    pairs = data.load_word_pairs(name)
    assert all(isinstance(p, data.WordPair) for p in pairs)
    assert all(p.word1 and p.word2 and p.word1 == p.word1.strip() for p in pairs)


def test_word_pair_known_records() -> None:
    rg65 = data.load_word_pairs("rg65")
    # rg65.csv lines end with trailing spaces: "cord;smile;0.02  "
    assert rg65[0] == data.WordPair("cord", "smile", 0.02)
    assert rg65[1] == data.WordPair("rooster", "voyage", 0.04)
    assert rg65[-1] == data.WordPair("gem", "jewel", 3.94)
    assert data.load_word_pairs("simverb3500")[0] == data.WordPair("take", "remove", 6.81)
    assert data.load_word_pairs("ws353")[0] == data.WordPair("love", "sex", 6.77)
    assert data.load_word_pairs("simlex999")[0] == data.WordPair("old", "new", 1.58)
    # Scores are in the documented ranges.
    assert all(0 <= p.score <= 4 for p in rg65)
    assert all(0 <= p.score <= 10 for p in data.load_word_pairs("simverb3500"))


def test_word_task_names() -> None:
    assert data.load_word_pairs("SL999") == data.load_word_pairs("simlex999")


def test_unknown_word_task_lists_valid_names() -> None:
    with pytest.raises(InputError) as info:
        data.load_word_pairs("men3000")
    message = str(info.value)
    assert "men3000" in message
    assert all(name in message for name in data.word_similarity_tasks())
    assert isinstance(info.value, ValueError) and isinstance(info.value, LayerwiseError)


def test_word_pairs_skip_blank_lines(data_copy: Path) -> None:
    rel = "word-similarity/rg65.csv"
    before = data.load_word_pairs("rg65")
    text = (data_copy / rel).read_text(encoding="utf-8")
    rewrite(data_copy, rel, "\n" + text.replace("\n", "\n   \n", 3) + "\n\n")
    assert data.load_word_pairs("rg65") == before


def test_word_pairs_wrong_count(data_copy: Path) -> None:
    rel = "word-similarity/rg65.csv"
    lines = (data_copy / rel).read_text(encoding="utf-8").splitlines()
    rewrite(data_copy, rel, "\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataError, match=r"rg65\.csv: expected 65 word pairs, found 64"):
        data.load_word_pairs("rg65")


# ---------------------------------------------------------------------------------------------
# ValNorm
# ---------------------------------------------------------------------------------------------


def test_valnorm() -> None:
    words = data.load_valnorm()
    assert words[0] == data.ValenceWord("abuse", 1.53)
    assert words[1] == data.ValenceWord("accident", 1.51)
    assert words[-1] == data.ValenceWord("world", 4.03)
    assert len({w.word for w in words}) == len(words)
    assert all(1 <= w.valence <= 5 for w in words)


def test_valnorm_column_found_by_header_name(data_copy: Path) -> None:
    rel = "valnorm/Bellezza_Lexicon.csv"
    rows = [line.split(",") for line in (data_copy / rel).read_text().splitlines()]
    reversed_rows = [",".join(reversed(row)) for row in rows]
    rewrite(data_copy, rel, "\n".join(reversed_rows) + "\n")
    assert data.load_valnorm()[0] == data.ValenceWord("abuse", 1.53)


def test_attribute_words() -> None:
    assert len(data.PLEASANT) == 25 and len(data.UNPLEASANT) == 25
    assert len(set(data.PLEASANT) | set(data.UNPLEASANT)) == 50
    assert data.PLEASANT[:3] == ("caress", "freedom", "health")
    assert data.PLEASANT[-1] == "vacation"
    assert data.UNPLEASANT[:3] == ("abuse", "crash", "filth")
    assert data.UNPLEASANT[-1] == "prison"


# ---------------------------------------------------------------------------------------------
# STS Benchmark
# ---------------------------------------------------------------------------------------------


def test_sts_benchmark() -> None:
    pairs = data.load_sts_benchmark()
    first = pairs[0]
    assert first.genre == "main-captions"
    assert (first.file, first.year, first.sid) == ("MSRvid", "2012test", "0024")
    assert first.score == 2.5
    assert first.sentence1 == "A girl is styling her hair."
    assert first.sentence2 == "A girl is brushing her hair."
    assert all(0 <= p.score <= 5 for p in pairs)


def test_sts_benchmark_quotes_split_on_tabs_only() -> None:
    pairs = data.load_sts_benchmark()
    # Line 408 of sts-test.csv.
    assert pairs[407].sentence1 == 'A young boy jumping into a pool that says "no diving".'
    assert pairs[407].sentence2 == "A boy jumps into a pool while lifeguards watch."
    # Line 643: nine fields, the last two (StackExchange sources) are ignored.
    assert pairs[642].sid == "0120"
    assert pairs[642].score == 1.0
    assert pairs[642].sentence1 == (
        "Unfortunately the answer to your question is we simply do not know."
    )
    assert pairs[642].sentence2 == 'My answer to your question is "Probably Not".'
    assert not any("StackExchange" in p.sentence2 for p in pairs)


def test_sts_benchmark_unique_sentences() -> None:
    pairs = data.load_sts_benchmark()
    sentences = data.sts_benchmark_sentences(pairs)
    assert len(sentences) == 2552
    assert sentences[:3] == [
        "A girl is styling her hair.",
        "A girl is brushing her hair.",
        "A group of men play soccer on the beach.",
    ]
    assert len(set(sentences)) == len(sentences)
    assert data.sts_benchmark_sentences(data.load_sts_benchmark(strip=False)).__len__() == 2552


# ---------------------------------------------------------------------------------------------
# SemEval STS 2012-2016
# ---------------------------------------------------------------------------------------------


def test_sts_sentences_counts() -> None:
    summary = data.sts_sentence_summary()
    assert len(summary) == 25
    assert summary["2012/MSRpar.test.tsv"] == 750
    assert summary["2016/postediting.test.tsv"] == 3287
    assert sum(summary.values()) == 26_775
    assert data.count_sts_pairs() == 26_775
    # Stripped texts (default): 39,404 unique; raw strings: 39,443 as in PROVENANCE.md.
    sentences = data.load_sts_sentences()
    assert len(sentences) == 39_404
    assert len(data.load_sts_sentences(strip=False)) == 39_443
    assert all(s.text == s.text.strip() and s.text for s in sentences)
    assert len({s.text for s in sentences}) == len(sentences)


def test_sts_sentences_records() -> None:
    sentences = data.load_sts_sentences()
    assert sentences[0] == data.Sentence(
        "The problem likely will mean corrective changes before the shuttle fleet starts "
        "flying again.",
        "2012/MSRpar.test.tsv",
    )
    assert sentences[4].text.startswith('"It\'s a huge black eye," said publisher')
    assert {s.source.split("/")[0] for s in sentences} == {"2012", "2013", "2014", "2015", "2016"}
    only_2013 = data.load_sts_sentences(years=[2013])
    assert {s.source for s in only_2013} == {
        "2013/FNWN.test.tsv",
        "2013/OnWN.test.tsv",
        "2013/headlines.test.tsv",
    }
    assert data.count_sts_pairs(years=[2013]) == 189 + 561 + 750


def test_sts_sentences_unknown_year() -> None:
    with pytest.raises(InputError, match="2017"):
        data.load_sts_sentences(years=[2017])


# ---------------------------------------------------------------------------------------------
# Checksums and errors
# ---------------------------------------------------------------------------------------------


def test_checksums_match_listing() -> None:
    sums = data.dataset_checksums()
    listed = (data.dataset_dir() / "SHA256SUMS").read_text().split("\n")
    # every file of the folder but the listing and PROVENANCE.md, each once
    files = {
        p.relative_to(data.dataset_dir()).as_posix()
        for p in data.dataset_dir().rglob("*")
        if p.is_file() and p.name not in ("SHA256SUMS", "PROVENANCE.md")
    }
    assert set(sums) == files and len(sums) == len([line for line in listed if line.strip()])
    rel = "word-similarity/rg65.csv"
    path = data.dataset_dir() / rel
    assert sums[rel] == hashlib.sha256(path.read_bytes()).hexdigest() == data.checksum(path)
    assert data.verify_checksums([f"./{rel}"]) == {rel: sums[rel]}


def test_corrupted_file(data_copy: Path) -> None:
    rel = "word-similarity/simlex999.csv"
    assert len(data.load_word_pairs("simlex999")) == data.DATASETS["simlex999"].count
    path = data_copy / rel
    raw = bytearray(path.read_bytes())
    raw[5] = ord("X") if raw[5] != ord("X") else ord("Y")
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError) as info:
        data.load_word_pairs("simlex999")
    message = str(info.value)
    assert "simlex999.csv" in message and "checksum" in message
    assert hashlib.sha256(bytes(raw)).hexdigest() in message  # the actual checksum
    assert "git checkout" in message
    with pytest.raises(DataError, match="checksum"):
        data.dataset_checksums()


def test_missing_file(data_copy: Path) -> None:
    (data_copy / "valnorm" / "Bellezza_Lexicon.csv").unlink()
    with pytest.raises(DataError, match=r"valnorm/Bellezza_Lexicon\.csv.*not found"):
        data.load_valnorm()


def test_missing_checksum_list(data_copy: Path) -> None:
    (data_copy / "SHA256SUMS").unlink()
    with pytest.raises(DataError, match="SHA256SUMS"):
        data.load_sts_benchmark()


def test_unlisted_file(data_copy: Path) -> None:
    (data_copy / "semeval-sts" / "2014" / "extra.test.tsv").write_text("1.0\ta\tb\n")
    with pytest.raises(DataError, match=r"semeval-sts/2014/extra\.test\.tsv: not listed"):
        data.load_sts_sentences()
    with pytest.raises(DataError, match="not listed"):
        data.verify_checksums(["word-similarity/men.csv"])


def test_malformed_word_pair_line(data_copy: Path) -> None:
    rel = "word-similarity/wordsim353.csv"
    lines = (data_copy / rel).read_text(encoding="utf-8").splitlines()
    lines[9] = "tiger;cat"
    rewrite(data_copy, rel, "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"wordsim353\.csv, line 10: expected .*'tiger;cat'"):
        data.load_word_pairs("ws353")


def test_non_numeric_score(data_copy: Path) -> None:
    rel = "word-similarity/SimVerb-3500.txt"
    lines = (data_copy / rel).read_text(encoding="utf-8").splitlines()
    lines[2] = "feed\tstarve\tV\thigh\tANTONYMS"
    rewrite(data_copy, rel, "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"SimVerb-3500\.txt, line 3: expected .*numeric score"):
        data.load_word_pairs("simverb3500")


def test_malformed_sts_benchmark_line(data_copy: Path) -> None:
    rel = "sts-benchmark/sts-test.csv"
    lines = (data_copy / rel).read_text(encoding="utf-8").splitlines()
    lines[99] = "main-news\theadlines\t2016\t0001\t3.0\tonly one sentence"
    rewrite(data_copy, rel, "\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"sts-benchmark/sts-test\.csv, line 100: expected"):
        data.load_sts_benchmark()


def test_malformed_semeval_lines(data_copy: Path) -> None:
    rel = "semeval-sts/2013/FNWN.test.tsv"
    original = (data_copy / rel).read_text(encoding="utf-8").splitlines()
    long_sentence = "word " * 40
    for bad, line_no in [
        (f"2.0\t{long_sentence}", 7),  # two fields
        ("2.0\t\tSecond sentence.", 7),  # empty sentence
        ("two\tFirst.\tSecond.", 7),  # non-numeric score
    ]:
        lines = list(original)
        lines[line_no - 1] = bad
        rewrite(data_copy, rel, "\n".join(lines) + "\n")
        with pytest.raises(DataError) as info:
            data.load_sts_sentences(years=[2013])
        message = str(info.value)
        assert message.startswith(f"{rel}, line {line_no}: expected ")
        shown = message.split(", got ")[1].split(". Restore")[0]
        assert shown == (repr(bad[:80]) + "..." if len(bad) > 80 else repr(bad))
    # An empty score is allowed.
    lines = list(original)
    lines[6] = "\tFirst sentence here.\tSecond sentence here."
    rewrite(data_copy, rel, "\n".join(lines) + "\n")
    texts = [s.text for s in data.load_sts_sentences(years=[2013])]
    assert "First sentence here." in texts


# ---------------------------------------------------------------------------------------------
# Context-window filter
# ---------------------------------------------------------------------------------------------


def _counter(calls: list[str]):
    def count(text: str) -> int:
        calls.append(text)
        return len(text.split()) + 2

    return count


def test_filter_to_window_by_hand() -> None:
    short = "one two three"  # 3 + 2 = 5 tokens
    medium = "one two three four five six"  # 8 tokens
    long = "one two three four five six seven eight nine ten"  # 12 tokens
    calls_a: list[str] = []
    calls_b: list[str] = []
    result = data.filter_to_window(
        [short, medium, long],
        {"A": (_counter(calls_a), 6), "B": (_counter(calls_b), 10)},
    )
    assert result.kept == [short]
    assert result.dropped == [medium, long]
    assert result.dropped_by_model == {"A": 2, "B": 1}
    assert result.limits == {"A": 6, "B": 10}
    assert result.token_counts == {"A": [5, 8, 12], "B": [5, 8, 12]}
    assert calls_a == [short, medium, long] and calls_b == [short, medium, long]
    assert result.summary() == "kept 1 of 3 sentences; dropped 2 (A: 2, B: 1)"


def test_filter_to_window_sentences_and_boundary() -> None:
    items = [
        data.Sentence("a b c d", "x.tsv"),  # 6 tokens: exactly the limit, kept
        data.Sentence("a b c d e", "y.tsv"),  # 7 tokens: dropped
    ]
    result = data.filter_to_window(items, {"A": (lambda t: len(t.split()) + 2, 6)})
    assert result.kept == [items[0]]
    assert result.dropped == [items[1]]
    custom = data.filter_to_window(
        [("k", "a b c d e")], {"A": (lambda t: len(t.split()) + 2, 6)}, text=lambda p: p[1]
    )
    assert custom.dropped == [("k", "a b c d e")]


def test_filter_to_window_summary_thousands() -> None:
    items = ["w"] * 1200 + ["w w w"] * 1100
    result = data.filter_to_window(
        items, {"clip": (lambda t: len(t.split()) + 2, 4), "gpt2": (len, 1024)}
    )
    assert result.summary() == "kept 1,200 of 2,300 sentences; dropped 1,100 (clip: 1,100, gpt2: 0)"


def test_filter_to_window_bad_arguments() -> None:
    with pytest.raises(InputError):
        data.filter_to_window(["a"], {})
    with pytest.raises(InputError):
        data.filter_to_window(["a"], {"A": (len, 0)})
    with pytest.raises(InputError):
        data.filter_to_window(["a"], {"A": (lambda t: -1, 5)})
    with pytest.raises(InputError):
        data.filter_to_window([3.5], {"A": (len, 5)})


def test_the_registry_drives_loaders_labels_and_overview():
    """One metadata record per dataset: the labels and the overview come from it (each
    loader's count against it: tests/models/test_registry.py)."""
    from layerwise.data.registry import DATASETS

    rows = data.overview()
    assert [r["dataset"] for r in rows] == [d.title for d in DATASETS.values()]
    assert [r["file"] for r in rows] == [d.path for d in DATASETS.values()]
    assert reference.TASK_LABELS["simlex999"] == "SL999"
    assert set(reference.TASK_LABELS) == set(DATASETS)
    sums = (data.dataset_dir() / "SHA256SUMS").read_text()
    for d in DATASETS.values():
        if "<" not in d.path:  # a single file: checksummed
            assert d.path in sums, d.path


def test_loaders_return_the_documented_counts() -> None:
    # the record counts of the registry's datasets: tests/models/test_registry.py
    assert (len(data.PLEASANT), len(data.UNPLEASANT)) == (25, 25)
    stsb = data.load_sts_benchmark()
    assert len(data.sts_benchmark_sentences(stsb)) == 2552
    assert len(data.load_sts_sentences()) == 39404


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
