"""The text chapter 5 (``notebooks/05_sts``) states: Figure 4 beside the paper's claims,
the outside check of a model's own pooling, the layer-by-layer gap and the final-norm
conventions. Paper values come from :mod:`layerwise.data.reference`."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from ...data import reference
from ...models.pooling import BASE_SETTINGS
from ..table1 import best_and_top
from ..text import cell_texts, fmt, gap_texts
from .common import count, largest_change, undefined_layers


def figure4_texts(sts: pd.DataFrame) -> dict[str, str]:
    """Figure 4: :func:`~layerwise.report.text.cell_texts` of every role and base setting
    (``<role>_<setting>_<key>``), the causal model's best score with the EOS token or the
    last subtoken (``causal_max``) and whether it stays within the paper's bound for GPT-2
    (``causal_max_holds``)."""
    bt = best_and_top(sts, ["role", "setting", "task"])
    out = {
        f"{role}_{setting}_{key}": phrase
        for role in dict.fromkeys(sts["role"])
        for setting in BASE_SETTINGS
        for key, phrase in cell_texts(bt, role, setting, "stsb").items()
    }
    gpt2_max = reference.claim("sts_gpt2_max").paper
    causal_max = bt.query("role == 'causal' and setting in ['eos', 'last']")["best"].max()
    out["causal_max"] = fmt(causal_max)
    out["causal_max_holds"] = "holds" if causal_max <= gpt2_max else "does not hold"
    return out


def native_check(published: pd.DataFrame) -> str:
    """The outside check, one clause per model (``published``: the ``native_pooling`` table
    indexed by model, columns ``reproduced (top layer)``, ``published``, ``difference``)."""
    if published.empty:
        return (
            "No model of this run has both its own pooling and a published STS-B "
            "score, so there is no outside check here."
        )
    return (
        "; ".join(
            f"{m}: {r['reproduced (top layer)']:.5f} reproduced, {r.published:.5f} "
            f"published, difference {r.difference:+.5f}"
            for m, r in published.iterrows()
        )
        + "."
    )


def scores_texts(sts: pd.DataFrame, n_resamples: int) -> dict[str, str]:
    """The ``sts`` table's pairs (``n_pairs``), the bootstrap's resamples (``n_resamples``),
    where a score is undefined (``undefined``) and the texts of :func:`figure4_texts`."""
    return {
        "n_pairs": count(int(sts["n"].iloc[0])),
        "n_resamples": count(n_resamples),
        "undefined": undefined_layers(sts),
        **figure4_texts(sts),
    }


def gaps_texts(gaps: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """:func:`~layerwise.report.text.gap_texts` of each gap, as ``<key>_<setting>``
    (``wins_eos``, ``gap_lower_last``, ...)."""
    return {
        f"{key}_{st}": phrase for st, gap in gaps.items() for key, phrase in gap_texts(gap).items()
    }


def chapter5(
    *,
    n_resamples: int,
    sts: pd.DataFrame,
    published: pd.DataFrame,
    gaps: Mapping[str, pd.DataFrame],
    conv: pd.DataFrame,
) -> dict[str, str]:
    """Every text chapter 5 states, by name (its section functions together).

    Args:
        n_resamples: the run's bootstrap resamples.
        sts: the ``sts`` table (``role``, ``model``, ``setting``, ``task``, ``layer``,
            ``top``, ``value``, ``low``, ``high``, ``n``).
        published: see :func:`native_check`.
        gaps: causal setting (``eos``, ``last``) ->
            :func:`~layerwise.report.text.layerwise_gap` of the contrastive model's EOS
            token against it.
        conv: :func:`~layerwise.report.text.top_conventions` of ``sts``.

    Returns:
        ``n_pairs``, ``n_resamples``, ``undefined``, the texts of :func:`figure4_texts`,
        ``native_check``, :func:`~layerwise.report.text.gap_texts` of each gap as
        ``<key>_<setting>``, and ``conv_max``.
    """
    return {
        **scores_texts(sts, n_resamples),
        "native_check": native_check(published),
        **gaps_texts(gaps),
        "conv_max": largest_change(conv),
    }
