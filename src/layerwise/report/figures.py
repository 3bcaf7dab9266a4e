"""One function per figure of the paper, with one look across chapters.

Every figure plots a per-layer value from a tidy table (see
:mod:`layerwise.measure`), one line per model and setting, the 95%
bootstrap interval as a band where the table has one, and the paper's values
as grey dashed lines with open markers where the paper reports them. Legends
name the models actually used. When the compared models differ in depth the
x axis is relative depth (layer / number of layers) so that their first and
last layers line up.

Every figure is drawn :data:`~layerwise.report.style.FIG_WIDTH` inches wide at
:data:`~layerwise.report.style.DPI` (640 px, the book's column without shrinking) with the
font sizes of :mod:`layerwise.report.style`; panels are stacked or wrap to two columns, and
the legend sits below the panels, never on the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..data import reference
from ..data.registry import DATASETS
from . import style
from .labels import LABELS
from .labels import label as human

#: Legend names of the word and sentence settings (from :data:`~.labels.LABELS`).
SETTING_LABELS = {k: LABELS[k] for k in ("bare", "wrapped", "eos", "last", "mean")}
ROLE_COLORS = {"contrastive": "tab:blue", "causal": "tab:orange"}
LINESTYLES = {"wrapped": "-", "eos": "--", "bare": ":", "last": ":", "mean": "-."}
PAPER_STYLE = {"color": "0.45", "linestyle": (0, (4, 2)), "marker": "o", "mfc": "none", "ms": 4}


def _x(df: pd.DataFrame, relative: bool) -> np.ndarray:
    layers = df["layer"].to_numpy(dtype=float)
    return layers / df["layer"].max() if relative else layers


def needs_relative_depth(df: pd.DataFrame) -> bool:
    """True when the models in ``df`` have different numbers of layers."""
    return df.groupby("model")["layer"].max().nunique() > 1


@style.styled
def per_layer(
    df: pd.DataFrame,
    *,
    ax: Axes | None = None,
    group: Sequence[str] = ("model", "setting"),
    paper: Mapping[str, Sequence[float]] | None = None,
    ylabel: str = "",
    title: str = "",
    relative: bool | None = None,
    legend: bool = True,
) -> Axes:
    """Lines of ``value`` by layer, one per ``group``; bands from ``low``/``high``.

    ``paper`` maps a legend label to the paper's per-layer values (layer 0 first).
    Only native hidden states are drawn (``top == "native"``). Without ``ax`` a figure
    :data:`~.style.FIG_WIDTH` wide is made. With ``legend`` the figure's legend is drawn
    below its panels (:func:`~.style.legend_below`); callers that add lines of their own
    pass ``legend=False`` and draw it themselves.
    """
    ax = ax or plt.subplots(figsize=(style.FIG_WIDTH, 3.6))[1]
    df = df[df["top"] == "native"] if "top" in df else df
    if relative is None:
        relative = paper_relative(df) if paper else needs_relative_depth(df)
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
    if legend:
        style.legend_below(ax.figure, *ax.get_legend_handles_labels())
    return ax


@style.styled
def figure1(geometry: pd.DataFrame, *, paper: bool = True) -> Figure:
    """Figure 1: CWE self-similarity per layer.

    With ``paper`` the paper's values are drawn dashed with open markers in each
    role's colour (CLIP's are recoverable for layers 0-4 only); the x axis is
    relative depth unless both models have the paper's 12 layers.
    """
    d = geometry[geometry["measure"] == "self_similarity"]
    relative = paper_relative(d) if paper else None
    ax = per_layer(
        d, group=("model",), ylabel="self-similarity (Eq. 1)", relative=relative, legend=False
    )
    if paper:
        for role, values in reference.FIG1_SELF_SIMILARITY.items():
            xs = np.arange(len(values)) / (12 if relative else 1)
            look = PAPER_STYLE | {"color": ROLE_COLORS[role], "lw": 1}
            ax.plot(xs, values, label=f"paper: {PAPER_NAMES[role]}", **look)
    ax.set_ylim(min(-0.05, d["value"].min() - 0.05), 1.02)
    style.legend_below(ax.figure, *ax.get_legend_handles_labels())
    return ax.figure


@style.styled
def figure2(
    geometry: pd.DataFrame, *, variant: str = "", script: bool = False, paper: bool = True
) -> Figure:
    """Figure 2: share of CWE length in the top-5 and top-8 dimensions per layer.

    ``variant="_script"`` plots the authors' script definition instead of the paper's;
    ``script=True`` adds it as dashed lines beside the paper's definition. With
    ``paper`` the paper's top-layer top-5 values (GPT-2 > .97, CLIP .39) are stars. The two
    panels (top 5, top 8) are stacked, sharing the x axis.
    """
    fig, axes = plt.subplots(2, 1, figsize=(style.FIG_WIDTH, 5.6), sharex=True, sharey=True)
    relative = paper_relative(geometry) if paper else None
    for ax, k in zip(axes, (5, 8), strict=True):
        d = geometry[geometry["measure"] == f"top{k}_share{variant}"]
        if script:
            d = d.assign(setting="paper's definition")
        per_layer(d, ax=ax, title=f"top {k}", relative=relative, legend=False)
        if script:
            d = geometry[geometry["measure"] == f"top{k}_share_script"]
            n = len(ax.lines)
            per_layer(d.assign(setting="authors' script"), ax=ax, relative=relative, legend=False)
            for line in ax.lines[n:]:
                line.set_linestyle((0, (4, 2)))
        if paper and k == 5:
            top = 1.0 if relative else 12
            stars = {
                "causal": reference.claim("top5_causal_top").paper,
                "contrastive": reference.claim("top5_contrastive_top").paper,
            }
            for role, value in stars.items():
                label = f"paper: {PAPER_NAMES[role]}, top layer ({value:.2f})".replace("0.", ".")
                ax.scatter(
                    [top],
                    [value],
                    marker="*",
                    s=90,
                    color=ROLE_COLORS[role],
                    edgecolor="k",
                    lw=0.5,
                    zorder=5,
                    label=label,
                )
        ax.set_ylim(0, 1.02)
        ax.set_ylabel("share of vector length")
    axes[0].set_xlabel("")  # the shared x axis is labelled under the lower panel
    handles, labels = axes[0].get_legend_handles_labels()
    style.legend_below(fig, handles, labels, ncol=2)
    return fig


#: Axis label of a task's registry metric (``Dataset.metric``).
#: Appended to the panel title of a task the paper's Table 1 does not report.
_NOT_IN_PAPER = " (not in the paper)"


@style.styled
def word_task_figure(
    words: pd.DataFrame,
    tasks: Sequence[str],
    *,
    paper_best: bool = True,
    ncols: int | None = None,
) -> Figure:
    """Per-layer word-task scores (Figure 3: ValNorm; Figure 6: the similarity sets).

    One panel per task (one task: one panel the figure's width; more: rows of two, ``ncols``
    at most 2), one line per
    model and word setting with its 95% bootstrap band, and one legend below the panels. With
    ``paper_best`` the paper's best layer and value of each Table 1 row are drawn
    as markers in the colour of the row's role, one shape per word setting; a task the
    paper does not report (one registered at run time) has none, and its panel's title
    says "not in the paper". The y label is the task's registry metric. The x
    axis is relative depth when the models differ in depth or are not 12 layers
    deep (the paper's depth), so the paper's markers sit at their relative depth.
    """
    from matplotlib.lines import Line2D

    n = len(tasks)
    ncols = min(ncols or 2, 2, n)
    nrows = -(-n // ncols)
    native = words[words["top"] == "native"] if "top" in words else words
    relative = needs_relative_depth(native) or int(native["layer"].max()) != 12
    markers = {"bare": ("v", 7), "wrapped": ("*", 11), "eos": ("D", 6)}
    panel_height = 3.6 if ncols == 1 else 2.7
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(style.FIG_WIDTH, panel_height * nrows), squeeze=False
    )
    for ax, task in zip(axes.flat[:n], tasks, strict=True):
        paper = {row: cells[task] for row, cells in reference.TABLE1.items() if task in cells}
        per_layer(
            words[words["task"] == task],
            ax=ax,
            ylabel=human(DATASETS[task].metric),
            title=reference.TASK_LABELS[task] + (_NOT_IN_PAPER if paper_best and not paper else ""),
            relative=relative,
            legend=False,
        )
        ax.set_ylim(-0.3, 1)
        for label, (value, layer, _) in paper.items() if paper_best else ():
            role, setting = reference.TABLE1_ROWS[label]
            marker, size = markers[setting]
            ax.plot(
                [layer / 12 if relative else layer],
                [value],
                linestyle="",
                marker=marker,
                ms=size,
                color=ROLE_COLORS[role],
                mec="k",
                mew=0.6,
                zorder=5,
            )
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    if len({ax.get_ylabel() for ax in axes.flat[:n]}) == 1:
        for ax in axes[:, 1:].flat:
            ax.set_ylabel("")  # one metric for every panel: named in the first column only
    handles, labels = axes.flat[0].get_legend_handles_labels()
    for label, (role, setting) in reference.TABLE1_ROWS.items() if paper_best else ():
        marker, size = markers[setting]
        handles.append(
            Line2D([], [], linestyle="", marker=marker, ms=size, color=ROLE_COLORS[role], mec="k")
        )
        labels.append(f"paper's best layer, Table 1: {label}")
    style.legend_below(fig, handles, labels, ncol=2)
    return fig


@style.styled
def figure4(sts: pd.DataFrame) -> Figure:
    """Figure 4: STS-B Spearman per layer for each model and sentence setting, with 95%
    bootstrap bands, and the paper's two reference levels: CLIP EOS at its top layer
    (.73) and GPT-2's maximum over layers and settings (.45)."""
    from matplotlib.lines import Line2D

    claims = {c.key: c.paper for c in reference.CLAIMS}
    clip_top, gpt2_max = claims["sts_clip_top"], claims["sts_gpt2_max"]
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 3.8))
    per_layer(sts, ax=ax, ylabel="Spearman rho (STS-B test)", legend=False)
    ax.axhline(clip_top, color="0.35", linestyle=(0, (4, 2)), lw=1)
    ax.axhline(gpt2_max, color="0.35", linestyle=":", lw=1)
    handles, labels = ax.get_legend_handles_labels()
    handles += [
        Line2D([], [], color="0.35", linestyle=(0, (4, 2)), lw=1),
        Line2D([], [], color="0.35", linestyle=":", lw=1),
    ]
    labels += [
        f"paper: CLIP EOS, top layer ({clip_top:.2f})".replace("0.", "."),
        f"paper: GPT-2 maximum, any layer and setting ({gpt2_max:.2f})".replace("0.", "."),
    ]
    style.legend_below(fig, handles, labels, ncol=2)
    return fig


@style.styled
def figure5(self_sim: pd.DataFrame, *, paper: bool = True) -> Figure:
    """Figure 5: self-similarity of sentence embeddings per layer, every setting.

    With ``paper``: CLIP EOS's first and top layer (.98, .25) as open markers and
    GPT-2 EOS's floor (.97) as a dotted line, in each role's colour.
    """
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 3.8))
    relative = paper_relative(self_sim) if paper else None
    per_layer(
        self_sim,
        ax=ax,
        ylabel="self-similarity of sentence embeddings",
        relative=relative,
        legend=False,
    )
    if paper:
        top = 1.0 if relative else 12
        look = PAPER_STYLE | {"color": ROLE_COLORS["contrastive"], "ms": 7, "linestyle": "none"}
        first, last = reference.FIG5_CLIP_EOS_FIRST, reference.claim("sent_ss_clip_top").paper
        floor = reference.claim("sent_ss_gpt2_min").paper
        ax.plot([0, top], [first, last], label="paper: CLIP EOS, first and top layer", **look)
        ax.axhline(
            floor,
            color=ROLE_COLORS["causal"],
            linestyle=":",
            lw=1.2,
            label=f"paper: GPT-2 EOS, lowest layer ({floor:.2f})".replace("0.", "."),
        )
    ax.set_ylim(min(-0.05, self_sim["value"].min() - 0.05), 1.02)
    style.legend_below(fig, *ax.get_legend_handles_labels(), ncol=2)
    return fig


@style.styled
def token_length_histogram(
    counts: Mapping[str, Sequence[int]], limits: Mapping[str, int]
) -> Figure:
    """Distribution of sentence lengths in tokens per model, with each context window.

    ``counts`` maps a model to its sentences' lengths in tokens; ``limits`` a model to its
    window in tokens. Lengths above 200 are drawn in the last bin. A window inside the
    plotted range is a dashed line labelled above the axes (off the data) with the models
    that share it, one label per line, each on its own height so that no two labels
    overprint. The legend is below.
    """
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 3.6))
    top = max(max(c) for c in counts.values())
    bins = np.arange(0, min(top, 200) + 2)
    for name, c in counts.items():
        ax.hist(np.minimum(c, bins[-1]), bins=bins, histtype="step", label=name)
    shared: dict[int, list[str]] = {}
    for name, limit in limits.items():
        if limit <= bins[-1]:
            shared.setdefault(limit, []).append(name)
    on_x = ax.get_xaxis_transform()  # x in data, y in axes fraction
    for row, (limit, names) in enumerate(sorted(shared.items())):
        ax.axvline(limit + 0.5, color="k", linestyle="--", lw=1)
        right = limit > 0.6 * bins[-1]  # near the right edge: the label reads leftwards
        ax.annotate(
            f"{', '.join(names)}: {limit}",
            xy=(limit + 0.5, 1),
            xycoords=on_x,
            xytext=(-2 if right else 2, 3 + 1.6 * style.SMALL_PT * row),
            textcoords="offset points",
            ha="right" if right else "left",
            va="bottom",
            fontsize=style.SMALL_PT,
        )
    ax.set_xlabel("tokens per sentence (special tokens included)")
    ax.set_ylabel("sentences")
    ax.set_yscale("log")
    style.legend_below(fig, *ax.get_legend_handles_labels(), ncol=3)
    return fig


PAPER_NAMES = {"causal": "GPT-2", "contrastive": "CLIP"}


def paper_relative(df: pd.DataFrame) -> bool:
    """Whether a figure that draws the paper's 12-layer values needs a relative-depth x
    axis: the models differ in depth, or their depth is not the paper's 12."""
    native = df[df["top"] == "native"] if "top" in df else df
    return needs_relative_depth(native) or int(native["layer"].max()) != 12
