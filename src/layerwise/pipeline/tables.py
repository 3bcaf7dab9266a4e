"""The table registry: every table a chapter shows, how it is computed, and its cache key.

One :class:`TableEntry` per table, in the order ``reproduce`` writes them. A *measured*
table runs a measurement on both roles' models (with a ``role`` column) and is cached
under the models' identities, the run's sample sizes and seed, the code of the modules its
entry names (their import closures: the measurement and its estimators, never the prose
or the figures) and this module's own source (the glue); a *derived* table is computed
from earlier ones (cheap, never cached). So an edit to ``measure/words.py`` recomputes the
word-task table and what reads it, not chapter 3's geometry. Adding a chapter's table is
one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pandas as pd

from ..closure import source_digest
from ..errors import InputError
from ..measure import ablations, multi
from ..measure.common import MeasureOptions
from ..measure.cwe import cwe_geometry, cwe_labels, cwe_sentences, cwe_states
from ..measure.sentences import published_check, sentence_self_similarity, sts_benchmark_scores
from ..measure.words import word_task_scores
from ..models.spec import LoadedModel
from ..report import comparison
from ..report.table1 import claim_checks, table1
from ..store.cached import cached_value, value_key
from ..store.keys import model_identity

Models = Mapping[str, LoadedModel]


@dataclass(frozen=True)
class TableEntry:
    """A table of the book: ``name`` (its CSV's name), the ``chapter`` that shows it, what it
    holds, and how it is computed: ``build(models, s, tables)`` gets the run's role ->
    model, its :class:`~layerwise.measure.common.MeasureOptions` and the tables computed
    before it; ``needs``: the tables it reads from ``tables`` (computed first when
    missing). ``cached``: kept in the run's cache (measured tables), keyed by the closure of
    the modules ``code`` names (those ``build`` calls into)."""

    name: str
    chapter: int
    description: str
    build: Callable[[Models, MeasureOptions, dict[str, pd.DataFrame]], pd.DataFrame]
    cached: bool = True
    needs: tuple[str, ...] = ()
    code: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.cached and not self.code:
            raise InputError(f"table {self.name!r} is cached, so its entry names its code")


def _per_role(measure: Callable[[LoadedModel, MeasureOptions], pd.DataFrame]):
    def build(models: Models, s: MeasureOptions, tables) -> pd.DataFrame:
        frames = [measure(lm, s).assign(role=role) for role, lm in models.items()]
        df = pd.concat(frames, ignore_index=True)
        if "note" in df.columns:  # one model's table has notes (unknown tokens): "" elsewhere
            df["note"] = df["note"].fillna("")
        return df

    return build


def _cwe_geometry(models: Models, s: MeasureOptions, tables) -> pd.DataFrame:
    sentences = cwe_sentences(list(models.values()), s)

    def measure(lm: LoadedModel, s: MeasureOptions) -> pd.DataFrame:
        labels = cwe_labels(lm, sentences, s)  # names a sampled zero vector in a note
        return cwe_geometry(cwe_states(lm, sentences, s), lm, labels=labels)

    return _per_role(measure)(models, s, tables)


def _table1(models: Models, s: MeasureOptions, tables) -> pd.DataFrame:
    return table1({role: g for role, g in tables["word_tasks"].groupby("role")})


def _native_pooling(models: Models, s: MeasureOptions, tables) -> pd.DataFrame:
    check = published_check(models, s)
    return check.reset_index() if len(check) else pd.DataFrame(columns=["model"])


def _paired_claims(models: Models, s: MeasureOptions, tables) -> pd.DataFrame:
    states = multi.load_states(list(models.values()), s)
    return comparison.with_verdicts(multi.paired_table(states, s, methods=("raw",)))


#: The four measured tables chapters 3-5 show (both roles, a ``role`` column).
ROLE_TABLES = ("cwe_geometry", "word_tasks", "sts", "sentence_self_similarity")
#: Every table of the reproduction, in the order it is computed and written.
TABLES: dict[str, TableEntry] = {
    t.name: t
    for t in (
        TableEntry(
            "cwe_geometry",
            3,
            "CWE self-similarity and top-k shares per layer",
            _cwe_geometry,
            code=("layerwise.measure.cwe",),
        ),
        TableEntry(
            "word_tasks",
            4,
            "word tasks per setting and layer",
            _per_role(lambda lm, s: word_task_scores(lm, s=s)),
            code=("layerwise.measure.words",),
        ),
        TableEntry(
            "sts",
            5,
            "STS-B Spearman per setting and layer",
            _per_role(lambda lm, s: sts_benchmark_scores(lm, s=s)),
            code=("layerwise.measure.sentences",),
        ),
        TableEntry(
            "sentence_self_similarity",
            5,
            "self-similarity of sentence embeddings per setting and layer",
            _per_role(lambda lm, s: sentence_self_similarity(lm, s=s)),
            code=("layerwise.measure.sentences",),
        ),
        TableEntry(
            "table1",
            4,
            "Table 1: best and top layer per word task",
            _table1,
            cached=False,
            needs=("word_tasks",),
        ),
        TableEntry(
            "claims",
            6,
            "the paper's claims checked on this run",
            lambda models, s, tables: claim_checks(tables),
            cached=False,
            needs=ROLE_TABLES,
        ),
        TableEntry(
            "native_pooling",
            5,
            "native pooling's top layer against the model's published STS-B score",
            _native_pooling,
            code=("layerwise.measure.sentences",),
        ),
        TableEntry(
            "deviations",
            6,
            "the authors' seven deviations measured both ways",
            lambda models, s, tables: ablations.deviation_table(models, tables, s),
            cached=False,  # cached by deviation_table itself, keyed by the tables it reads
            needs=ROLE_TABLES,
        ),
        TableEntry(
            "paired_claims",
            6,
            "paired bootstrap differences between the roles",
            _paired_claims,
            code=("layerwise.measure.multi", "layerwise.report.comparison"),
        ),
    )
}


def compute_table(
    name: str, models: Models, s: MeasureOptions, tables: dict[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """Table ``name`` of :data:`TABLES` for the run's ``models`` (role -> model).

    ``tables`` holds the tables it is derived from (computed first when missing). Measured
    tables are cached in ``s.cache``. Raises :class:`~layerwise.errors.InputError` for an
    unknown name.
    """
    if name not in TABLES:
        raise InputError(f"unknown table {name!r}; choose one of {list(TABLES)}")
    entry = TABLES[name]
    tables = {} if tables is None else tables
    for before in entry.needs:
        if before not in tables:
            tables[before] = compute_table(before, models, s, tables)
    if not entry.cached:
        return entry.build(models, s, tables)
    return cached_value(
        s.cache,
        f"table {name}",
        lambda: entry.build(models, s, tables),
        table=True,
        code=entry.code,
        **_key_parts(models, s),
    )


def _key_parts(models: Models, s: MeasureOptions) -> dict:
    """What a measured table's key holds besides its code: the models, the run's sample
    sizes and seed, and this module's own source (the glue between the measurements)."""
    return {
        "models": {role: model_identity(lm) for role, lm in models.items()},
        "params": {"n_cwe": s.n_cwe, "seed": s.seed, "n_resamples": s.n_resamples},
        "glue": source_digest(__name__),
    }


def table_key(name: str, models: Models, s: MeasureOptions) -> str:
    """The cache key :func:`compute_table` keeps measured table ``name`` under: the closure
    of the modules its entry names (``TableEntry.code``) and :func:`_key_parts`."""
    entry = TABLES[name]
    return value_key(f"table {name}", entry.code, **_key_parts(models, s))
