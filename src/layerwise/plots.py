"""One function per figure of the paper, with one look across chapters.

Every figure plots a per-layer value from a tidy table (see
:mod:`layerwise.experiments`), one line per model and setting, the 95%
bootstrap interval as a band where the table has one, and the paper's values
as grey dashed lines with open markers where the paper reports them. Legends
name the models actually used. When the compared models differ in depth the
x axis is relative depth (layer / number of layers) so that their first and
last layers line up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import reference

SETTING_LABELS = {
    "bare": "no BOS/EOS, last subtoken",
    "wrapped": "with BOS/EOS, last subtoken",
    "eos": "EOS token",
    "last": "last subtoken, nothing added",
    "mean": "mean over tokens",
}
ROLE_COLORS = {"contrastive": "tab:blue", "causal": "tab:orange"}
LINESTYLES = {"wrapped": "-", "eos": "--", "bare": ":", "last": ":", "mean": "-."}
PAPER_STYLE = {"color": "0.45", "linestyle": (0, (4, 2)), "marker": "o", "mfc": "none", "ms": 4}


def _x(df: pd.DataFrame, relative: bool) -> np.ndarray:
    layers = df["layer"].to_numpy(dtype=float)
    return layers / df["layer"].max() if relative else layers


def needs_relative_depth(df: pd.DataFrame) -> bool:
    """True when the models in ``df`` have different numbers of layers."""
    return df.groupby("model")["layer"].max().nunique() > 1


def per_layer(
    df: pd.DataFrame,
    *,
    ax: Axes | None = None,
    group: Sequence[str] = ("model", "setting"),
    paper: Mapping[str, Sequence[float]] | None = None,
    ylabel: str = "",
    title: str = "",
    relative: bool | None = None,
) -> Axes:
    """Lines of ``value`` by layer, one per ``group``; bands from ``low``/``high``.

    ``paper`` maps a legend label to the paper's per-layer values (layer 0 first).
    Only native hidden states are drawn (``top == "native"``).
    """
    ax = ax or plt.subplots(figsize=(6.4, 4))[1]
    df = df[df["top"] == "native"] if "top" in df else df
    relative = needs_relative_depth(df) if relative is None else relative
    group = [g for g in group if g in df.columns]
    for key, g in df.groupby(group, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        g = g.sort_values("layer")
        labels = dict(zip(group, key, strict=True))
        setting = labels.get("setting")
        role = g["role"].iloc[0] if "role" in g else None
        label = ", ".join(
            [labels["model"]] + ([SETTING_LABELS.get(setting, setting)] if setting else [])
        )
        x = _x(g, relative)
        (line,) = ax.plot(
            x,
            g["value"],
            marker=".",
            label=label,
            color=ROLE_COLORS.get(role),
            linestyle=LINESTYLES.get(setting, "-"),
        )
        if {"low", "high"} <= set(g.columns) and g["low"].notna().any():
            ax.fill_between(x, g["low"], g["high"], color=line.get_color(), alpha=0.15, lw=0)
    for label, values in (paper or {}).items():
        n = len(values)
        depth = 12
        xs = np.arange(n) / depth if relative else np.arange(n)
        ax.plot(xs, values, label=f"paper: {label}", **PAPER_STYLE)
    ax.set_xlabel("relative depth (layer / layers)" if relative else "layer")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return ax


def figure1(geometry: pd.DataFrame, *, paper: bool = True) -> Figure:
    """Figure 1: CWE self-similarity per layer."""
    d = geometry[geometry["measure"] == "self_similarity"]
    ref = (
        {
            "GPT-2": reference.FIG1_SELF_SIMILARITY["causal"],
            "CLIP": reference.FIG1_SELF_SIMILARITY["contrastive"],
        }
        if paper
        else None
    )
    ax = per_layer(d, group=("model",), paper=ref, ylabel="self-similarity (Eq. 1)")
    ax.set_ylim(min(-0.05, d["value"].min() - 0.05), 1.02)
    return ax.figure


def figure2(geometry: pd.DataFrame, *, variant: str = "") -> Figure:
    """Figure 2: share of CWE length in the top-5 and top-8 dimensions per layer.

    ``variant="_script"`` plots the authors' script definition instead of the paper's.
    """
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, k in zip(axes, (5, 8), strict=True):
        d = geometry[geometry["measure"] == f"top{k}_share{variant}"]
        per_layer(d, ax=ax, group=("model",), ylabel="share of vector length", title=f"top {k}")
        ax.set_ylim(0, 1.02)
    return fig


def word_task_figure(
    words: pd.DataFrame, tasks: Sequence[str], *, paper_best: bool = True
) -> Figure:
    """Per-layer word-task scores (Figure 3: ValNorm; Figure 6: the four similarity sets).

    With ``paper_best`` the paper's best-layer values (Table 1) are drawn as
    markers at their layer.
    """
    n = len(tasks)
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        d = words[words["task"] == task]
        relative = needs_relative_depth(d)
        per_layer(
            d,
            ax=ax,
            ylabel="Pearson r" if task == "valnorm" else "Spearman rho",
            title=reference.TASK_LABELS[task],
            relative=relative,
        )
        if paper_best:
            for label, cells in reference.TABLE1.items():
                value, layer, _ = cells[task]
                role = reference.TABLE1_ROWS[label][0]
                x = layer / 12 if relative else layer
                ax.scatter(
                    [x],
                    [value],
                    marker="*",
                    s=60,
                    color=ROLE_COLORS[role],
                    edgecolor="k",
                    lw=0.5,
                    zorder=5,
                )
        ax.set_ylim(-0.3, 1)
    if paper_best:
        axes[0][0].text(
            0.01,
            0.01,
            "stars: paper's best layer (Table 1)",
            transform=axes[0][0].transAxes,
            fontsize=7,
        )
    fig.tight_layout()
    return fig


def figure4(sts: pd.DataFrame) -> Figure:
    """Figure 4: STS-B Spearman per layer for each sentence setting."""
    ax = per_layer(sts, ylabel="Spearman rho (STS-B test)")
    ax.axhline(
        0.73,
        **{k: v for k, v in PAPER_STYLE.items() if k in ("color", "linestyle")},
        label="paper: CLIP EOS top layer (.73)",
    )
    ax.axhline(0.45, color="0.7", linestyle=":", label="paper: GPT-2 maximum (.45)")
    ax.legend(fontsize=7)
    return ax.figure


def figure5(self_sim: pd.DataFrame) -> Figure:
    """Figure 5: self-similarity of sentence embeddings per layer."""
    ax = per_layer(self_sim, ylabel="self-similarity of sentence embeddings")
    ax.set_ylim(min(-0.05, self_sim["value"].min() - 0.05), 1.02)
    return ax.figure


def token_length_histogram(
    counts: Mapping[str, Sequence[int]], limits: Mapping[str, int]
) -> Figure:
    """Distribution of sentence lengths in tokens per model, with each context window."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    top = max(max(c) for c in counts.values())
    bins = np.arange(0, min(top, 200) + 2)
    for name, c in counts.items():
        ax.hist(np.minimum(c, bins[-1]), bins=bins, histtype="step", label=name)
    for name, limit in limits.items():
        if limit <= bins[-1]:
            ax.axvline(limit + 0.5, color="k", linestyle="--", lw=1)
            ax.text(limit + 1, ax.get_ylim()[1] * 0.9, f"{name}: {limit}", fontsize=7)
    ax.set_xlabel("tokens per sentence (special tokens included)")
    ax.set_ylabel("sentences")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    return fig
