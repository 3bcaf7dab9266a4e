"""One-table overview of the vendored datasets (chapter 1, ``notebooks/01_data.ipynb``)."""

from __future__ import annotations

from .registry import DATASETS, Dataset
from .sts import count_sts_pairs, load_sts_benchmark, load_sts_sentences
from .words import (
    PLEASANT,
    UNPLEASANT,
    load_valnorm,
    load_word_pairs,
)


def _items_and_example(d: Dataset) -> tuple[str, str]:
    """How many items dataset ``d`` holds and its first one, read with its loader."""
    if d.kind == "word_similarity":
        pairs = load_word_pairs(d.key)
        p = pairs[0]
        return f"{len(pairs):,} pairs", f"{p.word1} / {p.word2}: {p.score:g}"
    if d.kind == "valence":
        lex = load_valnorm()
        attributes = f"{len(PLEASANT)}+{len(UNPLEASANT)} attribute words"
        return f"{len(lex):,} words + {attributes}", f"{lex[0].word}: {lex[0].valence:g}"
    if d.kind == "sts":
        sts = load_sts_benchmark()
        first = sts[0]
        example = f"{first.sentence1} / {first.sentence2}: {first.score:g}"
        return f"{len(sts):,} pairs", example
    sents = load_sts_sentences()
    return f"{count_sts_pairs():,} pairs, {len(sents):,} unique sentences", sents[0].text


def overview() -> list[dict[str, object]]:
    """One record per dataset of :data:`.registry.DATASETS`, in its order: name, number of
    items, the first item, file, source, licence (chapter 1). Raises
    :class:`~layerwise.errors.DataError` when a file is missing or does not match its
    checksum or count."""
    rows: list[dict[str, object]] = []
    for d in DATASETS.values():
        items, example = _items_and_example(d)
        rows.append(
            {"dataset": d.title, "items": items, "example": example}
            | {"file": d.path, "source": d.source, "licence": d.licence}
        )
    return rows
