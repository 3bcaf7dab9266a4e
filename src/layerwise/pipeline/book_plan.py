"""The book build's extraction plan: before the first chapter executes, the states its
chapters read are extracted as one merged extraction per model
(:func:`~layerwise.store.plan.run_plan`), so each chapter finds them in the cache.

The chapters run in separate kernels, one after another; each reads the states of its
own tables, and chapter 6 re-reads sentences chapter 3 ran, chapter 7 the texts of
chapters 3-5. Listed here, for the profile's two models, is what ``reproduce`` reads
(:func:`~layerwise.pipeline.plan.reproduction_states`) plus chapter 7's share
(:func:`~layerwise.measure.multi_states.gather_states` over the texts of
:func:`~layerwise.measure.multi_texts.compare_texts`); for chapter 7's extra models, their
share alone. What a chapter extracts beyond this list (chapter 2's batching check, chapter
4's example pairs) it extracts itself, as before.

A model's weights are read only when one of its extractions is missing from the cache,
and dropped before the next model's are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ..measure.cwe import cwe_sentences
from ..measure.multi_states import gather_states
from ..measure.multi_texts import compare_texts
from ..models.spec import LoadedModel
from ..store.plan import Job, run_plan
from .compare import load_extras
from .config import RunConfig, load_profile
from .plan import jobs_of, reproduction_states


def book_gather(cfg: RunConfig) -> tuple[list[LoadedModel], Callable[[LoadedModel], None]]:
    """Every model the chapters read (the profile's two, then chapter 7's extras; loaded
    lazily: no weights) and the function that gathers one model's states (inside
    :func:`~layerwise.measure.common.planning` it records them)."""
    s = cfg.options()
    profile = list(load_profile(cfg, log=None).values())
    extras, _ = load_extras(cfg, log=None)
    models = [*profile, *extras.values()]
    sentences = cwe_sentences(profile, s)
    texts = compare_texts(models, s)
    mine = {lm.spec.name for lm in profile}

    def gather(lm: LoadedModel) -> None:
        if lm.spec.name in mine:
            reproduction_states(lm, sentences, s)
        gather_states(lm, texts, s)

    return models, gather


def book_jobs(cfg: RunConfig) -> Iterator[tuple[LoadedModel, list[Job]]]:
    """Each model the chapters read with its extractions (:func:`book_gather`), one model
    at a time: the caller's reference is the only one, so a model's weights, once read,
    go with it."""
    models, gather = book_gather(cfg)
    for i in range(len(models)):
        lm, models[i] = models[i], None
        yield lm, jobs_of(lm, gather)


def run_book_plan(cfg: RunConfig, log: Callable[[str], None] | None = print) -> int:
    """Extract what the book's chapters read (the module docstring) as one merged
    extraction per model into the run's cache; returns the entries written (0 when the
    cache holds them all, or there is no cache). Raises what loading a model raises."""
    s = cfg.options()
    written = 0
    for lm, jobs in book_jobs(cfg):
        n = run_plan(lm, jobs, s.cache, batch_size=s.batch_size, progress=s.progress)
        if n and log:
            log(f"{lm.spec.name}: {n} extractions run as one plan")
        written += n
    return written
