"""The text chapter 6 (``notebooks/06_discussion``) states: how many of the paper's
claims hold, what the paired intervals say, Table 1's mean gap to the paper and the
largest script-vs-paper deviation."""

from __future__ import annotations

import pandas as pd

from ..comparison import advantage_text

#: The deviation whose difference must be rounding error (methodology note 5).
VALNORM_SD = "5 ValNorm SD"


def claims_texts(claims: pd.DataFrame) -> dict[str, str]:
    """How many claims there are (``n_claims``), hold in direction (``n_held``) and have an
    undefined direction (``n_undefined``), from
    :func:`~layerwise.report.table1.claim_checks`."""
    held = claims["direction_holds"]
    return {
        "n_claims": str(len(claims)),
        "n_held": str(int(held.sum())),  # True only; <NA> is skipped
        "n_undefined": str(int(held.isna().sum())),
    }


def deviation_texts(deviations: pd.DataFrame) -> dict[str, str]:
    """The deviation with the largest absolute difference (``dev_biggest``) and the
    largest difference the ValNorm SD makes (``dev_valnorm_max``), from
    :func:`~layerwise.measure.ablations.deviation_table`."""
    biggest = deviations.loc[deviations["difference"].abs().idxmax()]
    sd_rows = deviations[deviations["deviation"] == VALNORM_SD]
    return {
        "dev_biggest": (
            f"{biggest['deviation']} ({biggest['quantity']}, {biggest['model']}: "
            f"{biggest['difference']:+.3f})"
        ),
        "dev_valnorm_max": f"{sd_rows['difference'].abs().max():.1e}",
    }


def paired_texts(paired: pd.DataFrame) -> dict[str, str]:
    """The paired tests' verdict on the raw states at the best and at the top layers
    (``paired_best``, ``paired_top``;
    :func:`~layerwise.report.comparison.advantage_text`)."""
    return {
        "paired_best": advantage_text(paired, "raw"),
        "paired_top": advantage_text(paired, "raw", "top"),
    }


def table1_texts(t1: pd.DataFrame) -> dict[str, str]:
    """The mean absolute difference from the paper over Table 1's cells at the best layer
    (``t1_mean_abs_diff``)."""
    return {"t1_mean_abs_diff": f"{t1['diff_best'].abs().mean():.2f}"}


def chapter6(
    *,
    claims: pd.DataFrame,
    paired: pd.DataFrame,
    t1: pd.DataFrame,
    deviations: pd.DataFrame,
) -> dict[str, str]:
    """Every text chapter 6 states, by name (its section functions together).

    Args:
        claims: :func:`~layerwise.report.table1.claim_checks` of the run's four tables.
        paired: the ``paired_claims`` table (columns ``model_a``, ``model_b``, ``method``,
            ``task``, ``choice``, ``low``, ``high``).
        t1: :func:`~layerwise.report.table1.table1` (column ``diff_best``).
        deviations: the ``deviations`` table.

    Returns:
        The texts of :func:`claims_texts`; ``paired_best`` and ``paired_top``
        (:func:`~layerwise.report.comparison.advantage_text`, raw states, best and top
        layers); ``t1_mean_abs_diff``; the texts of :func:`deviation_texts`.
    """
    return {
        **claims_texts(claims),
        **paired_texts(paired),
        **table1_texts(t1),
        **deviation_texts(deviations),
    }
