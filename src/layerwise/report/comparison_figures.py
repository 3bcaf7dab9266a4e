"""Chapter 7's figures for any number of models, and a measure over a training run.

Every function plots a tidy table of :func:`~layerwise.measure.multi.compare_tables` (one
row per model, layer and quantity, with a ``depth`` column): one line per model against
its layer, or against relative depth (layer / number of blocks) when the models differ
in depth, the 95% bootstrap interval as a band where the table has one. The paper's
figures are in :mod:`layerwise.report.figures`. Every figure has the book's width and font
sizes (:mod:`layerwise.report.style`), its legend below the panels, and names its
measures, tasks and methods in words (:mod:`layerwise.report.labels`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes

from ..data.registry import DATASETS
from ..tidy import select
from . import style
from .labels import label


# ------------------------------------------------------------------ chapter 7: any number of models
def _depth_axis(ax, states_n_layers: set[int]) -> None:
    ax.set_xlabel("layer" if len(states_n_layers) == 1 else "relative depth (layer / blocks)")


@style.styled
def plot_layers(df: pd.DataFrame, ylabel: str, **eq):
    """One line per model of ``value`` against depth, rows filtered by ``eq`` (e.g.
    ``measure="isoscore", sample="cwe"``); ``ylabel`` names the quantity in words. Returns
    the figure, :data:`~.style.FIG_WIDTH` wide, its legend below the axes."""
    sub = select(df, **eq)
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 3.6))
    depths = {int(g["layer"].max()) for _, g in sub.groupby("model")}
    x = "layer" if len(depths) == 1 else "depth"
    for model, g in sub.groupby("model", sort=False):
        g = g.sort_values("layer")
        ax.plot(g[x], g["value"], marker="o", ms=3, label=model)
        if "low" in g and g["low"].notna().any():
            ax.fill_between(g[x], g["low"], g["high"], alpha=0.2)
    _depth_axis(ax, depths)
    ax.set_ylabel(ylabel)
    style.legend_below(fig, *ax.get_legend_handles_labels())
    return fig


@style.styled
def plot_postprocessing(post: pd.DataFrame, task: str, setting: str):
    """One panel per postprocessing method (in rows of two), one line per model (95%
    bands), for one ``task`` and ``setting`` of chapter 7's postprocessing table; panel
    titles and the y label name the method, task and setting in words
    (:func:`~.labels.label`). Returns the figure, :data:`~.style.FIG_WIDTH` wide."""
    methods = list(dict.fromkeys(post["method"]))
    ncols = min(2, len(methods))
    nrows = -(-len(methods) // ncols)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(style.FIG_WIDTH, 2.5 * nrows),
        sharex=True,
        sharey=True,
        squeeze=False,
    )
    sub = post[(post["task"] == task) & (post["setting"] == setting)]
    x = "layer" if sub.groupby("model")["layer"].max().nunique() == 1 else "depth"
    for ax in axes.flat[len(methods) :]:
        ax.set_visible(False)
    for ax, method in zip(axes.flat, methods, strict=False):
        for model, g in sub[sub["method"] == method].groupby("model", sort=False):
            g = g.sort_values("layer")
            ax.plot(g[x], g["value"], marker="o", ms=3, label=model)
            if g["low"].notna().any():
                ax.fill_between(g[x], g["low"], g["high"], alpha=0.2)
        ax.set_title(f"postprocessing: {label(method)}")
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("layer" if x == "layer" else "relative depth (layer / blocks)")
    fig.supylabel(_score_label(task), fontsize=style.BASE_PT)
    if setting != "cwe":
        fig.suptitle(f"{label(task)}, {label(setting)}", fontsize=style.BASE_PT)
    style.legend_below(fig, *axes.flat[0].get_legend_handles_labels())
    return fig


def _score_label(task: str) -> str:
    """Y label of a task of the postprocessing table: its name and the registry's metric."""
    if task not in DATASETS:
        return label(task)
    metric = DATASETS[task].metric
    return f"{label(task)} ({label(metric)})"


@style.styled
def plot_uniformity_alignment(iso: pd.DataFrame, sample: str):
    """The uniformity/alignment plane: one path per model through its layers (first layer
    an open circle, top layer a filled star); lower-left is better on both. ``sample`` is a
    sample of chapter 7's isotropy table (``"sentences eos"``). Returns the figure,
    :data:`~.style.FIG_WIDTH` wide, its legend below the axes."""
    sub = iso[iso["sample"] == sample]
    wide = sub.pivot_table(index=["model", "layer"], columns="measure", values="value", sort=False)
    fig, ax = plt.subplots(figsize=(style.FIG_WIDTH, 4.2))
    for model, g in wide.groupby(level="model", sort=False):
        (line,) = ax.plot(g["uniformity"], g["alignment"], marker=".", label=model)
        ax.plot(
            g["uniformity"].iloc[0], g["alignment"].iloc[0], "o", mfc="none", color=line.get_color()
        )
        ax.plot(
            g["uniformity"].iloc[-1], g["alignment"].iloc[-1], "*", ms=12, color=line.get_color()
        )
    ax.set_xlabel("uniformity (lower: more uniform)")
    ax.set_ylabel("alignment, gold >= 4 (lower: closer)")
    ax.grid(alpha=0.3)
    style.legend_below(fig, *ax.get_legend_handles_labels())
    return fig


# ------------------------------------------------------------------ sweeps: a measure over training
def revision_steps(models: Sequence[str]) -> dict[str, int]:
    """Model name -> training step, for models that are revisions of one model named
    ``NAME@REVISION`` (``pythia-160m@step3000`` -> 3000: the last run of digits of the
    revision). Raises :class:`~layerwise.errors.InputError` when a name has no revision, the
    names are not all of one model, or a revision holds no step number."""
    from ..errors import InputError

    steps: dict[str, int] = {}
    bases = set()
    for name in models:
        base, at, rev = str(name).rpartition("@")
        digits = re.findall(r"\d+", rev)
        if not at or not digits:
            raise InputError(
                f"{name!r} is not NAME@REVISION with a step number in the revision; plotting "
                "against the revision needs revisions of one model (e.g. "
                "EleutherAI/pythia-160m@step3000)"
            )
        bases.add(base)
        steps[name] = int(digits[-1])
    if len(bases) != 1:
        raise InputError(
            f"the models {sorted(models)} are not revisions of one model ({sorted(bases)}); "
            "compare them by layer with plot_layers instead"
        )
    return steps


@style.styled
def plot_against_revision(
    df: pd.DataFrame,
    *,
    layer: int | str = "top",
    ax: Axes | None = None,
    ylabel: str = "",
    logx: bool = False,
    **eq,
) -> Axes:
    """A measure against the training step, one point per revision, in step order (chapter
    7's sweeps: anisotropy over training). ``df`` is a tidy table of ``compare`` over
    revisions of one model (:func:`revision_steps` reads the steps from the model names);
    ``eq`` selects the rows (e.g. ``measure="isoscore", sample="cwe"``) so that one row per
    model remains at ``layer`` (an index, or ``"top"``: each model's last layer). A band
    shows ``low``/``high`` where the table has them. Raises
    :class:`~layerwise.errors.InputError` when the rows are not one per revision."""
    from ..errors import InputError

    sub = select(df, **eq) if eq else df
    steps = revision_steps(list(dict.fromkeys(sub["model"])))
    if layer == "top":
        sub = sub[sub["layer"] == sub.groupby("model")["layer"].transform("max")]
    else:
        sub = sub[sub["layer"] == int(layer)]
    if "top" in sub:
        sub = sub[sub["top"] == "native"]
    if sub["model"].duplicated().any() or len(sub) != len(steps):
        raise InputError(
            f"expected one row per revision at layer {layer!r}, got {len(sub)} for "
            f"{len(steps)} revisions: select the rows with measure=..., sample=... (the "
            "columns that tell them apart)"
        )
    sub = sub.assign(step=sub["model"].map(steps)).sort_values("step")
    ax = ax or plt.subplots(figsize=(style.FIG_WIDTH, 3.6))[1]
    ax.plot(sub["step"].to_numpy(), sub["value"].to_numpy(), marker="o", ms=4)
    if "low" in sub and sub["low"].notna().any():
        ax.fill_between(sub["step"], sub["low"], sub["high"], alpha=0.2)
    if logx:
        ax.set_xscale("symlog", linthresh=1)
    base = next(iter(steps)).rpartition("@")[0]
    ax.set_xlabel(f"training step (revision of {base})")
    ax.set_ylabel(ylabel or label(eq.get("measure", "value")))
    ax.set_title(f"layer {layer}")
    return ax
