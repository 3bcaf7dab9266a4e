"""The dataset registry: one metadata record per dataset, the single source of which
datasets and word tasks exist, their counts and their labels.

The loaders (:mod:`.words`, :mod:`.sts`), the chapter 1 overview (:mod:`.overview`), the
task labels of tables and figures (:data:`LABELS`, also
:data:`layerwise.data.reference.TASK_LABELS`), the word tasks of chapters 4 and 7
(:func:`of_kind`, read at call time) and the tests all derive from :data:`DATASETS`.
Adding a vendored word-similarity dataset is one :class:`Dataset` entry with its
:class:`PairFormat`, the file under ``datasets/`` with its line in ``SHA256SUMS``, its
licence in ``PROVENANCE.md`` and ``book/data_licences.md`` and its citation in
``book/references.bib`` (``CONTRIBUTING.md`` has the checklist). A dataset of one's own
is added at run time, without editing the package, with
:func:`~layerwise.data.register.register_dataset` (:mod:`.register`). Chapter 1
(``notebooks/01_data``) shows them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PairFormat:
    """How a word-pair file is laid out: field separator, fields per line, the score's
    field (0-based), and the layout as an error message names it."""

    separator: str
    n_fields: int
    score_field: int
    layout: str


@dataclass(frozen=True, slots=True)
class Dataset:
    """One dataset: ``key`` (used in tables), ``label`` (tables and figures), ``title``
    (chapter 1's overview), ``kind`` (``word_similarity``, ``valence``, ``sts``,
    ``sentences``), ``metric`` (the statistic its task reports, or ``""``), ``path`` (under
    ``datasets/``; for a dataset registered at run time, an absolute path), ``count``
    (records the loader must read), ``source`` and ``citation`` (a key of
    ``book/references.bib``), ``licence``, the ``format`` of a pair file, and ``sha256``:
    empty for a vendored file (its digest is the line of ``datasets/SHA256SUMS``), the
    file's SHA-256 hex digest for a dataset registered at run time."""

    key: str
    label: str
    title: str
    kind: str
    metric: str
    path: str
    count: int
    source: str
    citation: str
    licence: str
    format: PairFormat | None = None
    sha256: str = ""


_SEMICOLON = PairFormat(";", 3, 2, "'word1;word2;score'")

#: Every vendored dataset, in the order chapter 1 lists them and the paper reports them.
DATASETS: dict[str, Dataset] = {
    d.key: d
    for d in (
        Dataset(
            "rg65", "RG65", "RG65", "word_similarity", "spearman",
            "word-similarity/rg65.csv", 65,
            "Rubenstein & Goodenough 1965", "rubenstein1965contextual", "research use",
            _SEMICOLON,
        ),
        Dataset(
            "ws353", "WS353", "WS353", "word_similarity", "spearman",
            "word-similarity/wordsim353.csv", 353,
            "Finkelstein et al. 2001", "finkelstein2001placing", "research use",
            _SEMICOLON,
        ),
        Dataset(
            "simlex999", "SL999", "SL999", "word_similarity", "spearman",
            "word-similarity/simlex999.csv", 999,
            "Hill et al. 2015", "hill2015simlex", "research use",
            _SEMICOLON,
        ),
        Dataset(
            "simverb3500", "SV3500", "SV3500", "word_similarity", "spearman",
            "word-similarity/SimVerb-3500.txt", 3500,
            "Gerz et al. 2016", "gerz2016simverb", "research use",
            PairFormat("\t", 5, 3, "5 tab-separated fields 'word1 word2 POS score relation'"),
        ),
        Dataset(
            "valnorm", "ValNorm", "ValNorm (Bellezza)", "valence", "pearson",
            "valnorm/Bellezza_Lexicon.csv", 399,
            "Bellezza, Greenwald & Banaji 1986", "bellezza1986words", "research use",
        ),
        Dataset(
            "stsb", "STS-B", "STS-B test", "sts", "spearman",
            "sts-benchmark/sts-test.csv", 1379,
            "Cer et al. 2017", "cer2017semeval", "research use",
        ),
        Dataset(
            "sts2012-2016", "STS 2012-2016", "STS 2012-2016", "sentences", "",
            "semeval-sts/<year>/*.tsv", 26_775,
            "Agirre et al. 2012-2016", "agirre2012semeval",
            "research use; 2016 StackExchange parts CC BY-SA 3.0; 2015 answers-forums own licence",
        ),
    )
}  # fmt: skip


#: Keys of the datasets shipped with the package (``datasets/``), which cannot be removed.
VENDORED: frozenset[str] = frozenset(DATASETS)


def of_kind(kind: str) -> tuple[str, ...]:
    """Keys of the datasets of one ``kind``, in registry order, read at call time (so a
    dataset registered at run time is included)."""
    return tuple(k for k, d in DATASETS.items() if d.kind == kind)


def user_datasets() -> dict[str, str]:
    """{key: sha256} of the datasets registered at run time (not vendored), in registry
    order; empty when there are none. Cached values are keyed by it, so a table computed
    with a user dataset is never served to a run without it, or with another file."""
    return {k: d.sha256 for k, d in DATASETS.items() if k not in VENDORED}


class _Labels(Mapping[str, str]):
    """Dataset key -> label (tables and figures), a live view of :data:`DATASETS`."""

    def __getitem__(self, key: str) -> str:
        return DATASETS[key].label

    def __iter__(self) -> Iterator[str]:
        return iter(DATASETS)

    def __len__(self) -> int:
        return len(DATASETS)

    def __repr__(self) -> str:
        return repr(dict(self))


#: Labels of every dataset's task in tables and figures, read from :data:`DATASETS` at each
#: lookup (a registered dataset has its label at once).
LABELS: Mapping[str, str] = _Labels()
