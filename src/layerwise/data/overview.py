"""One-table overview of the vendored datasets (chapter 1, ``notebooks/01_data.ipynb``)."""

from __future__ import annotations

from .sts import count_sts_pairs, load_sts_benchmark, load_sts_sentences
from .words import (
    PLEASANT,
    UNPLEASANT,
    WORD_SIMILARITY_DISPLAY_NAMES,
    WORD_SIMILARITY_TASKS,
    load_valnorm,
    load_word_pairs,
)

#: Where each dataset comes from and under what terms (see PROVENANCE.md for the details).
DATASET_INFO: dict[str, tuple[str, str, str]] = {
    "rg65": ("Rubenstein & Goodenough 1965", "word-similarity/rg65.csv", "research use"),
    "ws353": ("Finkelstein et al. 2001", "word-similarity/wordsim353.csv", "research use"),
    "simlex999": ("Hill et al. 2015", "word-similarity/simlex999.csv", "research use"),
    "simverb3500": ("Gerz et al. 2016", "word-similarity/SimVerb-3500.txt", "research use"),
    "valnorm": (
        "Bellezza, Greenwald & Banaji 1986",
        "valnorm/Bellezza_Lexicon.csv",
        "research use",
    ),
    "stsb": ("Cer et al. 2017", "sts-benchmark/sts-test.csv", "research use"),
    "sts2012-2016": (
        "Agirre et al. 2012-2016",
        "semeval-sts/<year>/*.tsv",
        "research use; 2016 StackExchange parts CC BY-SA 3.0; 2015 answers-forums own licence",
    ),
}


def overview() -> list[dict[str, object]]:
    """One record per dataset: name, file, number of items, an example, source, licence."""
    rows: list[dict[str, object]] = []
    for task in WORD_SIMILARITY_TASKS:
        pairs = load_word_pairs(task)
        p = pairs[0]
        rows.append(
            {
                "dataset": WORD_SIMILARITY_DISPLAY_NAMES[task],
                "items": f"{len(pairs):,} pairs",
                "example": f"{p.word1} / {p.word2}: {p.score:g}",
            }
        )
    lex = load_valnorm()
    rows.append(
        {
            "dataset": "ValNorm (Bellezza)",
            "items": f"{len(lex):,} words + {len(PLEASANT)}+{len(UNPLEASANT)} attribute words",
            "example": f"{lex[0].word}: {lex[0].valence:g}",
        }
    )
    sts = load_sts_benchmark()
    rows.append(
        {
            "dataset": "STS-B test",
            "items": f"{len(sts):,} pairs",
            "example": f"{sts[0].sentence1} / {sts[0].sentence2}: {sts[0].score:g}",
        }
    )
    sents = load_sts_sentences()
    rows.append(
        {
            "dataset": "STS 2012-2016",
            "items": f"{count_sts_pairs():,} pairs, {len(sents):,} unique sentences",
            "example": sents[0].text,
        }
    )
    for row, key in zip(rows, DATASET_INFO, strict=True):
        source, path, licence = DATASET_INFO[key]
        row |= {"file": path, "source": source, "licence": licence}
    return rows
