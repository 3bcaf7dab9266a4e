"""The extraction plan of ``reproduce`` and ``compare``: before the first forward pass, the
extractions every measurement of the run will make are listed (the functions that gather
states, run inside :func:`~layerwise.measure.common.planning`, record them without
extracting) and each model's are run as one merged extraction
(:func:`~layerwise.store.plan.run_plan`): every distinct input once, a causal model's
prefixes read from the longer inputs, each extraction written into the cache under the
key it has today. The measurements then find their states in the cache.

What is listed here is what the run's tables read (and chapter 7's per-model parts); an
extraction missing from the list is still made, by its measurement, on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from .. import data
from ..extract.requests import unique
from ..measure.common import MeasureOptions, planning
from ..measure.cwe import cwe_states
from ..measure.multi_states import gather_states
from ..measure.sentences import sentence_states
from ..measure.words import all_task_words, word_states
from ..models.spec import LoadedModel
from ..store.plan import Job, run_plan

Gather = Callable[[LoadedModel], object]


def reproduction_states(lm: LoadedModel, sentences: Sequence[str], s: MeasureOptions) -> None:
    """Gather every state the reproduction's tables read for ``lm`` (chapters 3-6: the CWE
    samples, the word tasks with and without a leading space, ValNorm's words, the STS-B
    sentences in each setting, the authors' parse and the left sentences)."""
    cwe_states(lm, sentences, s)
    cwe_states(lm, sentences, s, include_special=True)
    word_states(lm, all_task_words(), ("bare", "wrapped", "eos"), s)
    word_states(lm, all_task_words(), ("bare", "wrapped"), s, leading_space=True)
    valnorm = [w.word for w in data.load_valnorm()]
    word_states(lm, unique(valnorm + list(data.PLEASANT + data.UNPLEASANT)), ["wrapped"], s)
    stsb = data.sts_benchmark_sentences(data.load_sts_benchmark())
    settings = ["eos", "last", "mean"] + (["native"] if lm.spec.pooling is not None else [])
    for setting in settings:
        sentence_states(lm, stsb, setting, s)
    sentence_states(lm, unique(p.sentence1 for p in data.load_sts_benchmark()), "eos", s)
    sentence_states(lm, unique(p.sentence1 for p in data.load_sts_benchmark()), "mean", s)
    quoted = data.sts_benchmark_sentences(data.load_sts_benchmark_quoted())
    sentence_states(lm, quoted, "eos", s)
    gather_states(lm, sentences, s)


def jobs_of(lm: LoadedModel, gather: Gather) -> list[Job]:
    """The extractions ``gather(lm)`` makes, recorded without extracting: each distinct
    one once (the same label and requests are one cache entry), none without requests."""
    with planning() as recorded:
        gather(lm)
    return list(dict.fromkeys(Job(label, reqs) for m, label, reqs in recorded if m is lm and reqs))


def run_plans(
    models: Mapping[str, LoadedModel] | Sequence[LoadedModel],
    gather: Callable[[LoadedModel], object],
    s: MeasureOptions,
    log: Callable[[str], None] | None = None,
) -> int:
    """Each model's extractions (those ``gather`` makes) as one merged extraction into
    ``s.cache`` (:func:`~layerwise.store.plan.run_plan`); returns the entries written.
    Nothing is run without a cache (each measurement then extracts on its own)."""
    if s.cache is None:
        return 0
    written = 0
    values = models.values() if isinstance(models, Mapping) else models
    for lm in values:
        n = run_plan(lm, jobs_of(lm, gather), s.cache, batch_size=s.batch_size, progress=s.progress)
        if n and log:
            log(f"{lm.spec.name}: {n} extractions run as one plan")
        written += n
    return written
