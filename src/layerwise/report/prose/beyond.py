"""The text chapter 7 (``notebooks/07_beyond``) states: the models compared, the top
layer's isotropy and rogue-dimension shares, and what the paired intervals say."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from ...measure.words import word_tasks
from ..comparison import advantage_text, survival_verdict, values_text
from .common import cache_work, count, count_word

if TYPE_CHECKING:
    from ...models.spec import LoadedModel
    from ...store.cache import Cache


def models_texts(
    models: Mapping[str, LoadedModel],
    every: Sequence[LoadedModel],
    extras: Mapping[str, LoadedModel],
    skipped: Sequence[str],
) -> dict[str, str]:
    """The models compared (``b7_models``), the extra ones by source (``b7_extras``), why an
    unavailable extra was skipped (``b7_skipped``) and the two roles' names (``b7_c``,
    ``b7_g``)."""
    return {
        "b7_models": ", ".join(lm.spec.name for lm in every),
        "b7_extras": ", ".join(extras) or "none",
        "b7_skipped": "; ".join(skipped) or "none",
        "b7_c": models["contrastive"].spec.name,
        "b7_g": models["causal"].spec.name,
    }


def run_texts(cache: Cache, n_cwe: int, n_resamples: int) -> dict[str, str]:
    """The cache's work so far (``b7_cache``) and the run's sample sizes (``b7_n_cwe``,
    ``b7_n_resamples``)."""
    return {
        "b7_cache": cache_work(cache),
        "b7_n_cwe": count(n_cwe),
        "b7_n_resamples": count(n_resamples),
    }


def isotropy_texts(top_cwe: pd.DataFrame) -> dict[str, str]:
    """The CWE sample's top-layer IsoScore, uniformity and self-similarity per model
    (``b7_iso_top``, ``b7_unif_top``, ``b7_ss_top``)."""
    return {
        "b7_iso_top": values_text(top_cwe["isoscore"]),
        "b7_unif_top": values_text(top_cwe["uniformity"], 2),
        "b7_ss_top": values_text(top_cwe["self_similarity"]),
    }


def alignment_texts(top_eos: pd.DataFrame) -> dict[str, str]:
    """The EOS sentence vectors' top-layer alignment and uniformity per model
    (``b7_align_top``, ``b7_sunif_top``)."""
    return {
        "b7_align_top": values_text(top_eos["alignment"]),
        "b7_sunif_top": values_text(top_eos["uniformity"], 2),
    }


def rogue_texts(top_rogue: pd.DataFrame) -> dict[str, str]:
    """The top layer's share of the expected cosine in its 3 and 1 largest dimensions
    (``b7_top3``, ``b7_top1``)."""
    return {
        "b7_top3": values_text(top_rogue["top3_share"]),
        "b7_top1": values_text(top_rogue["top1_share"]),
    }


def paired_texts(paired: pd.DataFrame) -> dict[str, str]:
    """The paired verdicts: word tasks on raw and ABTT-postprocessed states (``b7_adv_raw``,
    ``b7_adv_abtt``), whether the advantage survives postprocessing (``b7_survives``),
    every task on raw states (``b7_adv_all``), and how many word tasks the registry holds
    (``b7_n_word_tasks``, in words; ``b7_n_tasks`` with STS-B)."""
    tasks = word_tasks()
    return {
        "b7_adv_raw": advantage_text(paired, "raw", tasks=tasks),
        "b7_adv_abtt": advantage_text(paired, "abtt", tasks=tasks),
        "b7_n_word_tasks": count_word(len(tasks)),
        "b7_n_tasks": count_word(len(tasks) + 1),
        "b7_survives": survival_verdict(paired),
        "b7_adv_all": advantage_text(paired, "raw"),
    }


def chapter7(
    *,
    models: Mapping[str, LoadedModel],
    every: Sequence[LoadedModel],
    extras: Mapping[str, LoadedModel],
    skipped: Sequence[str],
    cache: Cache,
    n_cwe: int,
    n_resamples: int,
    top_cwe: pd.DataFrame,
    top_eos: pd.DataFrame,
    top_rogue: pd.DataFrame,
    paired: pd.DataFrame,
) -> dict[str, str]:
    """Every text chapter 7 states, by name (its section functions together).

    Args:
        models: role -> the profile's loaded model; ``every``: all models compared (the
            profile's and the extras), ``extras``: the extra models by source,
            ``skipped``: why each unavailable extra was skipped.
        cache: the run's cache (this session's hits and misses).
        n_cwe, n_resamples: the run's sample sizes.
        top_cwe, top_eos: :func:`~layerwise.report.comparison.at_top` of the ``isotropy``
            table for the CWE sample and the EOS sentence vectors (columns ``isoscore``,
            ``uniformity``, ``self_similarity``, ``alignment``), one row per model.
        top_rogue: :func:`~layerwise.report.comparison.at_top` of ``rogue_dimensions``
            (``top3_share``, ``top1_share``).
        paired: the ``paired_differences`` table.

    Returns:
        ``b7_models``, ``b7_extras``, ``b7_skipped``, ``b7_c``, ``b7_g``, ``b7_cache``,
        ``b7_n_cwe``, ``b7_n_resamples``; the top layer's values ``b7_iso_top``,
        ``b7_unif_top``, ``b7_ss_top``, ``b7_align_top``, ``b7_sunif_top``, ``b7_top3``,
        ``b7_top1`` (:func:`~layerwise.report.comparison.values_text`); the paired
        verdicts ``b7_adv_raw``, ``b7_adv_abtt`` (word tasks), ``b7_survives``,
        ``b7_adv_all`` (every task).
    """
    return {
        **models_texts(models, every, extras, skipped),
        **run_texts(cache, n_cwe, n_resamples),
        **isotropy_texts(top_cwe),
        **alignment_texts(top_eos),
        **rogue_texts(top_rogue),
        **paired_texts(paired),
    }
