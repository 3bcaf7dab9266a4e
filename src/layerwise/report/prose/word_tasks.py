"""The text chapter 4 (``notebooks/04_word_tasks``) states: Table 1's claims, Figures 3
and 6 beside the paper and the numbers it quotes, the layer the paper's text and Table 1
disagree about, and the three ablations. Paper values come from
:mod:`layerwise.data.reference`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ...data import reference
from ...measure.common import alt_top_name
from ...measure.words import all_task_words, word_tasks
from ..table1 import holds_text
from ..text import cell_texts, fmt
from .common import count, count_word, largest_change, undefined_layers

if TYPE_CHECKING:
    from ...models.spec import LoadedModel


def bos_text_layer(depth: int) -> int:
    """The layer of a ``depth``-block causal model at the relative depth of the layer the
    paper's text names for GPT-2 with and without BOS (layer 7 of 12)."""
    return int(np.rint(reference.BOS_TEXT_LAYER / reference.PAPER_LAYERS * depth))


def claim_texts(claims: pd.DataFrame) -> dict[str, str]:
    """``holds_<key>`` and ``value_<key>`` for each row of
    :func:`~layerwise.report.table1.claim_checks`: the verdict, and the reproduced number
    (a count, without decimals, where the paper states no number)."""
    key_of = {c.text: c.key for c in reference.CLAIMS}
    out = {}
    for r in claims.itertuples():
        key = key_of[r.claim]
        out[f"holds_{key}"] = holds_text(r.direction_holds)
        out[f"value_{key}"] = f"{r.reproduced:.0f}" if pd.isna(r.paper) else fmt(r.reproduced)
    return out


def figure3_texts(bt: pd.DataFrame) -> dict[str, str]:
    """ValNorm with wrap tokens (Figure 3): :func:`~layerwise.report.text.cell_texts` of
    each model (``vn_c_*``, ``vn_g_*``), whether the contrastive model scores higher
    (``vn_order``) and whether its interval reaches GloVe's ValNorm (``vn_sota``)."""
    out = {}
    for prefix, role in (("vn_c", "contrastive"), ("vn_g", "causal")):
        for key, phrase in cell_texts(bt, role, "wrapped", "valnorm").items():
            out[f"{prefix}_{key}"] = phrase
    vn = bt.set_index(["role", "setting", "task"])
    c, g = vn.loc[("contrastive", "wrapped", "valnorm")], vn.loc[("causal", "wrapped", "valnorm")]
    out["vn_order"] = "holds" if c.best > g.best else "does not hold"
    out["vn_sota"] = "reaches" if c.best_high >= reference.GLOVE_VALNORM else "falls short of"
    return out


def bos_layer_texts(at_layer: pd.DataFrame, layer: int, depth: int) -> dict[str, str]:
    """The causal model at :func:`bos_text_layer` (``at_layer``: tasks ``valnorm`` and
    ``rg65`` by settings ``bare`` and ``wrapped``): each score (``l7_<task>_<setting>``),
    the layer (``l7``) and whether its bare ValNorm lies closer to the figure of the paper's
    text or of its Table 1 (``l7_closer``)."""
    out = {
        f"l7_{task}_{setting}": fmt(at_layer.loc[task, setting])
        for task in at_layer.index
        for setting in ("bare", "wrapped")
    }
    bare = at_layer.loc["valnorm", "bare"]
    in_text = reference.BOS_TEXT_VALNORM[0]
    in_table = reference.TABLE1["GPT-2, no BOS"]["valnorm"][0]
    out["l7"] = f"{layer} of {depth}"
    out["l7_closer"] = "text's" if abs(bare - in_text) < abs(bare - in_table) else "table's"
    return out


def figure6_texts(bt: pd.DataFrame) -> dict[str, str]:
    """Word similarity (Figure 6): :func:`~layerwise.report.text.cell_texts` of the
    contrastive model with wrap tokens on SimVerb-3500 (``sv_c_*``) and RG65 (``rg_c_*``),
    and whether its best SimVerb-3500 score is above the pooled GPT-2 figure the paper
    quotes (``sv_bommasani``)."""
    out = {}
    for prefix, task in (("sv_c", "simverb3500"), ("rg_c", "rg65")):
        for key, phrase in cell_texts(bt, "contrastive", "wrapped", task).items():
            out[f"{prefix}_{key}"] = phrase
    vn = bt.set_index(["role", "setting", "task"])
    sv_best = vn.loc[("contrastive", "wrapped", "simverb3500"), "best"]
    out["sv_bommasani"] = "above" if sv_best > reference.BOMMASANI_SIMVERB else "not above"
    return out


def leading_space_texts(cmp: pd.DataFrame) -> dict[str, str]:
    """The leading-space ablation (:func:`~layerwise.report.text.compare_best_top`, column
    ``best difference``): in how many cells the best score rises and its mean change per
    setting (``bare``, ``wrapped``)."""
    gain = cmp.groupby("setting")["best difference"].mean()
    return {
        "space_n_better": f"{(cmp['best difference'] > 0).sum()} of {len(cmp)}",
        "space_mean_bare": f"{gain['bare']:+.2f}",
        "space_mean_wrapped": f"{gain['wrapped']:+.2f}",
    }


def ddof_texts(ddof: pd.DataFrame) -> dict[str, str]:
    """The ValNorm SD ablation (:func:`~layerwise.measure.ablations.valnorm_ddof`): the
    largest difference in r between the two SDs over layers (``ddof_r_diff``) and the largest
    deviation of the effect sizes' ratio from sqrt(49/50) (``ddof_ratio_dev``)."""
    r_diff = np.abs(ddof["r_population_sd"].to_numpy() - ddof["r_sample_sd"].to_numpy()).max()
    return {
        "ddof_r_diff": f"{r_diff:.1e}",
        "ddof_ratio_dev": f"{ddof['ratio_deviation'].to_numpy().max():.1e}",
    }


def native_conventions(models: Mapping[str, LoadedModel]) -> str:
    """Each model's native top-layer convention and the other one captured."""
    return "; ".join(
        f"{lm.spec.name}, native top layer {lm.spec.top_state}, other convention "
        f"{alt_top_name(lm) or 'none'}"
        for lm in models.values()
    )


def scores_texts(words: pd.DataFrame, n_resamples: int, profile: str) -> dict[str, str]:
    """The ``word_tasks`` table's words (``n_words``, every task's) and tasks
    (``n_word_tasks``, in words, from the dataset registry), the bootstrap's resamples
    (``n_resamples``), where a score is undefined (``undefined``) and the profile
    (``profile_name``)."""
    return {
        "n_words": count(len(all_task_words())),
        "n_word_tasks": count_word(len(word_tasks())),
        "n_resamples": count(n_resamples),
        "undefined": undefined_layers(words),
        "profile_name": profile,
    }


def convention_texts(models: Mapping[str, LoadedModel], conv: pd.DataFrame) -> dict[str, str]:
    """Each model's native top-layer convention and the other one captured
    (``conventions``, :func:`native_conventions`), and the largest change between them
    (``conv_max``)."""
    return {"conventions": native_conventions(models), "conv_max": largest_change(conv)}


def chapter4(
    *,
    models: Mapping[str, LoadedModel],
    profile: str,
    n_resamples: int,
    words: pd.DataFrame,
    claims: pd.DataFrame,
    bt: pd.DataFrame,
    at_layer: pd.DataFrame,
    layer: int,
    depth: int,
    cmp: pd.DataFrame,
    ddof: pd.DataFrame,
    conv: pd.DataFrame,
) -> dict[str, str]:
    """Every text chapter 4 states, by name (its section functions together).

    Args:
        models: role -> loaded model; ``profile``: the run's concrete profile.
        n_resamples: the run's bootstrap resamples.
        words: the ``word_tasks`` table (``role``, ``model``, ``setting``, ``task``,
            ``layer``, ``top``, ``value``, ``low``, ``high``).
        claims: :func:`~layerwise.report.table1.claim_checks` of ``words``.
        bt: :func:`~layerwise.report.table1.best_and_top` of ``words`` by role, setting
            and task.
        at_layer, layer, depth: the causal model's scores at ``layer`` =
            :func:`bos_text_layer` of its ``depth`` (see :func:`bos_layer_texts`).
        cmp: the leading-space comparison (:func:`leading_space_texts`).
        ddof: :func:`~layerwise.measure.ablations.valnorm_ddof` of the contrastive model.
        conv: :func:`~layerwise.report.text.top_conventions` of ``words``.

    Returns:
        ``n_words``, ``n_resamples``, ``undefined``, ``profile_name`` and the texts of
        :func:`claim_texts`, :func:`figure3_texts`, :func:`bos_layer_texts`,
        :func:`figure6_texts`, :func:`leading_space_texts`, :func:`ddof_texts` and
        :func:`convention_texts`.
    """
    return {
        **scores_texts(words, n_resamples, profile),
        **claim_texts(claims),
        **figure3_texts(bt),
        **bos_layer_texts(at_layer, layer, depth),
        **figure6_texts(bt),
        **leading_space_texts(cmp),
        **ddof_texts(ddof),
        **convention_texts(models, conv),
    }
