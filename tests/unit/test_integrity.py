"""data.integrity: the vendored data is complete, unchanged and read as listed; a bad file
is a DataError naming it and the remedy."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from support import one_line

from layerwise import data
from layerwise.data import integrity
from layerwise.errors import DataError


def _resum(root: Path, rel: str) -> None:
    digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    sums = root / "SHA256SUMS"
    lines = [ln for ln in sums.read_text().splitlines() if not ln.endswith(f"  ./{rel}")]
    sums.write_text("\n".join([*lines, f"{digest}  ./{rel}"]) + "\n")


@pytest.mark.parametrize(
    ("rel", "load"),
    [
        ("word-similarity/rg65.csv", lambda: data.load_word_pairs("rg65")),
        ("sts-benchmark/sts-test.csv", data.load_sts_benchmark_quoted),
    ],
)
def test_a_data_file_with_a_bom_is_refused_naming_it(data_copy, rel, load):
    """Used to: a UTF-8 BOM at the start of a data file (an editor's) became part of the
    first record's first word, silently, once the checksum list was updated too."""
    path = data_copy / rel
    assert path.is_file(), rel
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    _resum(data_copy, rel)
    with pytest.raises(DataError) as err:
        load()
    message = one_line(err.value)
    assert rel in message and "BOM" in message and "git checkout" in message


def test_the_vendored_data_is_binary_to_git_and_crlf_is_named(data_copy):
    """Used to: no .gitattributes, so with core.autocrlf=true every data file was checked out
    with CRLF line endings, every checksum failed, and the printed fix (``git checkout``)
    wrote the converted file back; the message did not say line endings were the cause."""
    repo = Path(__file__).resolve().parents[2]
    rules = (repo / ".gitattributes").read_text().splitlines()
    assert "src/layerwise/datasets/** binary" in rules
    rel = "word-similarity/rg65.csv"
    path = data_copy / rel
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(DataError) as err:
        data.load_word_pairs("rg65")
    message = one_line(err.value)
    assert rel in message and "line endings" in message and "CRLF" in message


IMAGES_2014 = "semeval-sts/2014/images.test.tsv"


def _relist(root: Path, rel: str) -> None:
    """Record the current checksum of ``rel`` in the copy's SHA256SUMS."""
    digest = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    sums = root / "SHA256SUMS"
    lines = [ln for ln in sums.read_text().splitlines() if not ln.endswith(f"  ./{rel}")]
    sums.write_text("\n".join([*lines, f"{digest}  ./{rel}"]) + "\n")


def _fingerprint(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


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


def test_a_file_edited_in_place_with_its_mtime_restored_is_hashed_again(tmp_path: Path) -> None:
    """A file rewritten at the same size, its mtime put back with ``os.utime``, keeps its
    path, size, mtime and inode: a memo keyed on those alone (before issue 25) returned the
    old digest within one process. The inode's ctime moves with every write and cannot be
    set back, so the memo keys on it too and the change is seen."""
    path = tmp_path / "pairs.csv"
    path.write_bytes(b"word1,word2,4.0\n")
    old = time.time_ns() - 3600 * 10**9  # past the memo's two-second window for fresh files
    os.utime(path, ns=(old, old))
    first = integrity.checksum(path)
    assert integrity.checksum(path) == first  # memoized
    before = path.stat()
    time.sleep(0.05)  # a later ctime tick
    path.write_bytes(b"word1,word2,9.0\n")  # same size, other content
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    assert integrity.checksum(path) == hashlib.sha256(b"word1,word2,9.0\n").hexdigest() != first
