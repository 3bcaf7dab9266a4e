"""The text chapter 3 (``notebooks/03_anisotropy``) states: the paper's claims about
Figures 1, 2 and 5 checked on the run, the final-norm conventions and the sentence-set
ablation. Every threshold is the paper's, read from :mod:`layerwise.data.reference`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pandas as pd

from ...data import reference
from ..text import fmt
from .common import cache_work, count, verdict

if TYPE_CHECKING:
    from ...models.spec import LoadedModel
    from ...store.cache import Cache

#: Largest change of a layer's sentence self-similarity that counts as "little" when only
#: the left-hand sentences are embedded (the book's reading, not the paper's).
LITTLE_CHANGE = 0.02

#: Where each model's native top layer lies relative to its final layer norm.
NATIVE_TOP = {
    "post_norm": "its native top layer is after the final layer norm",
    "pre_norm": "its native top layer is before the final layer norm",
    "no_final_norm": "it has no final layer norm, so its top layer has one convention only",
}
SHARES = ["top5_share", "top8_share", "top5_share_script", "top8_share_script"]


def _native_wide(geo: pd.DataFrame) -> pd.DataFrame:
    """The native rows of ``cwe_geometry``, one row per (role, model, layer), one column
    per measure."""
    native = geo[geo["top"] == "native"]
    return native.pivot_table(index=["role", "model", "layer"], columns="measure", values="value")


def top_shares(geo: pd.DataFrame) -> pd.DataFrame:
    """Top-k shares at each model's top layer (paper's and script's definitions, Figure 2),
    one row per (role, model), with the paper's top-5 share and the difference from it."""
    wide = _native_wide(geo)
    shares = wide.groupby(level="role").tail(1).droplevel("layer")[SHARES].copy()
    roles = shares.index.get_level_values("role")
    shares["paper top5"] = [reference.claim(f"top5_{r}_top").paper for r in roles]
    shares["top5 - paper"] = shares["top5_share"] - shares["paper top5"]
    return shares


def _by_role(df: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The contrastive and the causal model's values, indexed by layer."""
    c, g = (df[df["role"] == r].set_index("layer")["value"] for r in ("contrastive", "causal"))
    return c, g


def figure1_texts(geo: pd.DataFrame) -> dict[str, str]:
    """CWE self-similarity (Figure 1): each model's range and top layer, the layer where the
    contrastive model is lowest (relative depth), and the paper's four statements and their
    direction, as "holds"/"does not hold"."""
    ss = geo[(geo["measure"] == "self_similarity") & (geo["top"] == "native")]
    c, g = _by_role(ss)
    out = {}
    for key, v in (("c", c), ("g", g)):
        out[f"ss_{key}_range"] = (
            f"{fmt(v.min())} (layer {v.idxmin()}) to {fmt(v.max())} (layer {v.idxmax()})"
        )
        out[f"ss_{key}_top"] = fmt(v.iloc[-1])
    low = reference.claim("cwe_ss_contrastive_min").paper
    at_low = round(c.min(), 2) == low and c.idxmin() == reference.CWE_SS_CLIP_MIN_LAYER
    return out | {
        "ss_c_depth": fmt(c.idxmin() / c.index.max()),
        "ss_c_under25": verdict(c.max() < reference.CWE_SS_CLIP_BOUND),
        "ss_c_min06": verdict(at_low),
        "ss_g_over55": verdict(g.min() >= reference.claim("cwe_ss_causal_min").paper),
        "ss_g_top96": verdict(round(g.iloc[-1], 2) >= reference.claim("cwe_ss_causal_top").paper),
        "ss_separated": verdict(c.max() < g.min()),
    }


def figure2_texts(geo: pd.DataFrame) -> dict[str, str]:
    """Top-k shares (Figure 2): the largest top-8 minus top-5 gap per model (``gap_text``,
    ``gap_holds``) and the top layer's top-5 shares by both definitions (``t5_*``)."""
    wide = _native_wide(geo)
    gap = (wide["top8_share"] - wide["top5_share"]).groupby(level="role")
    gap_text = "; ".join(
        f"{m}: {100 * v:.1f} points (layer {layer})"
        for (_, m, layer), v in zip(gap.idxmax(), gap.max(), strict=True)
    )
    top5 = top_shares(geo).droplevel("model")
    g5, c5 = top5.loc["causal", "top5_share"], top5.loc["contrastive", "top5_share"]
    return {
        "gap_text": gap_text,
        "gap_holds": verdict(gap.max().max() < reference.claim("top8_minus_top5").paper),
        "t5_g": fmt(g5),
        "t5_c": fmt(c5),
        "t5_g_script": fmt(top5.loc["causal", "top5_share_script"]),
        "t5_c_script": fmt(top5.loc["contrastive", "top5_share_script"]),
        "t5_g_holds": verdict(g5 > reference.claim("top5_causal_top").paper),
        "t5_direction": verdict(g5 > c5),
    }


def norm_models(models: Mapping[str, LoadedModel]) -> str:
    """Where each model's native top layer lies relative to its final layer norm."""
    return (
        "; ".join(f"{lm.spec.name}: {NATIVE_TOP[lm.spec.top_state]}" for lm in models.values())
        + "."
    )


def norm_texts(models: Mapping[str, LoadedModel], conventions: pd.DataFrame) -> dict[str, str]:
    """Where each model's top layer lies relative to its final norm (``norm_models``) and
    the top layer's CWE self-similarity before and after the norm (``norm_text``), from
    :func:`~layerwise.site.display.top_conventions_table` of ``cwe_geometry``."""
    if conventions.empty:
        norm_text = "No model of this run has a final layer norm: there is nothing to compare."
    else:
        rows = conventions.xs("self_similarity", level="measure", drop_level=False).iterrows()
        norm_text = (
            "; ".join(
                f"{m}: {fmt(r.pre_norm)} before the final norm, {fmt(r.post_norm)} after"
                for (m, _), r in rows
            )
            + "."
        )
    return {"norm_models": norm_models(models), "norm_text": norm_text}


def figure5_texts(sent: pd.DataFrame) -> dict[str, str]:
    """Sentence self-similarity in the EOS setting (Figure 5): the contrastive model's first
    and top layer, the causal model's lowest value, and the paper's statements."""
    nat = sent[sent["top"] == "native"]
    ce, ge = _by_role(nat[nat["setting"] == "eos"])
    return {
        "n_sentences": count(sent["n"].iloc[0]),
        "ce_first": fmt(ce.iloc[0]),
        "ce_top": fmt(ce.iloc[-1]),
        "ce_falls": verdict((ce.diff().dropna() < 0).all()),
        "ce_lower": verdict(ce.iloc[-1] < ce.iloc[0]),
        "ge_min": f"{fmt(ge.min())} (layer {ge.idxmin()})",
        "ge_97": verdict(ge.min() >= reference.claim("sent_ss_gpt2_min").paper),
        "sent_separated": verdict(ce.iloc[-1] < ge.min()),
    }


def sentence_set_texts(left: pd.DataFrame, left_diff: pd.Series) -> dict[str, str]:
    """The left-hand sentences alone (methodology note 4): how many (``n_left``), the
    largest change of a layer per model (``left_diff``) and whether that is little
    (``left_verdict``, at most :data:`LITTLE_CHANGE`)."""
    return {
        "n_left": count(left["n"].iloc[0]),
        "left_diff": "; ".join(f"{m}: {fmt(v, 3)}" for m, v in left_diff.items()),
        "left_verdict": (
            "matters little here" if left_diff.max() < LITTLE_CHANGE else "matters here"
        ),
    }


def opening_texts(
    models: Mapping[str, LoadedModel], n_cwe: int, compare_note: str
) -> dict[str, str]:
    """What the chapter states before any table: the sample size (``n_cwe``), what a
    comparison with the paper may be read for (``compare_note``), the two models' names
    (``ss_c_name``, ``ss_g_name``) and where each one's top layer lies relative to its final
    norm (``norm_models``)."""
    return {
        "n_cwe": count(n_cwe),
        "compare_note": compare_note,
        "ss_c_name": models["contrastive"].spec.name,
        "ss_g_name": models["causal"].spec.name,
        "norm_models": norm_models(models),
    }


def cwe_texts(geo: pd.DataFrame, geo_path: str) -> dict[str, str]:
    """Where ``cwe_geometry`` was written (``geo_path``) and the texts of
    :func:`figure1_texts` and :func:`figure2_texts`."""
    return {"geo_path": geo_path, **figure1_texts(geo), **figure2_texts(geo)}


def chapter3(
    *,
    models: Mapping[str, LoadedModel],
    compare_note: str,
    n_cwe: int,
    geo: pd.DataFrame,
    geo_path: str,
    conventions: pd.DataFrame,
    sent: pd.DataFrame,
    left: pd.DataFrame,
    left_diff: pd.Series,
    cache: Cache,
) -> dict[str, str]:
    """Every text chapter 3 states, by name (its section functions together).

    Args:
        models: role (``contrastive``, ``causal``) -> loaded model.
        compare_note: what a side-by-side with the paper may be read for
            (:func:`~layerwise.site.display.compare_note`), stated as it is.
        n_cwe: the run's number of sampled CWEs.
        geo: the ``cwe_geometry`` table (columns ``role``, ``model``, ``measure``,
            ``layer``, ``top``, ``value``), and ``geo_path``, where it was written as the
            page shows it (:func:`~layerwise.site.display.shown_path`).
        conventions: :func:`~layerwise.site.display.top_conventions_table` of ``geo``.
        sent: the ``sentence_self_similarity`` table (also ``setting`` and ``n``).
        left: the EOS sentence self-similarity of the left-hand sentences only (``n``).
        left_diff: per model, the largest absolute change of a layer's value between the
            left-hand and all unique sentences.
        cache: the run's cache (this session's hits and misses).

    Returns:
        ``compare_note``, ``n_cwe``, ``geo_path``, ``ss_c_name``, ``ss_g_name``, the texts of
        :func:`figure1_texts`, :func:`figure2_texts`, :func:`norm_texts`,
        :func:`figure5_texts` and :func:`sentence_set_texts`, and ``cache_session``.
    """
    return {
        **opening_texts(models, n_cwe, compare_note),
        **cwe_texts(geo, geo_path),
        **norm_texts(models, conventions),
        **figure5_texts(sent),
        **sentence_set_texts(left, left_diff),
        "cache_session": cache_work(cache),
    }
