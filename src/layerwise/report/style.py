"""The look every figure of the book shares: its width, resolution and font sizes.

The book's content column is about 672-740 px wide at a 1280 px browser width, and the
notebooks render figures as PNG at the figure's own dpi (``matplotlib_inline`` sets none, so
matplotlib's 100 dpi; ``bbox_inches="tight"``). A figure :data:`FIG_WIDTH` inches wide at
:data:`DPI` is 640 px: it is shown at its own size, never shrunk, and a point of text is
``DPI / 72`` px on the page, so the smallest text (:data:`SMALL_PT`, 9 pt) is 12.5 px.
"""

from __future__ import annotations

import matplotlib as mpl
from matplotlib.figure import Figure

#: Resolution of every figure (dots per inch): matplotlib's default, made explicit.
DPI = 100
#: Width of every figure in inches: 640 px at :data:`DPI`, inside the book's column.
FIG_WIDTH = 6.4
#: The book's content column in px (the narrowest seen at a 1280 px browser width).
COLUMN_PX = 672
#: Body text (axis labels, titles) and the smallest text (ticks, legends), in points.
BASE_PT, SMALL_PT = 10.5, 9.0

#: Matplotlib settings of every figure (applied by :func:`styled`).
RC = {
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.figsize": (FIG_WIDTH, 4.0),
    "figure.constrained_layout.use": True,
    "font.size": BASE_PT,
    "axes.titlesize": BASE_PT,
    "axes.labelsize": BASE_PT,
    "xtick.labelsize": SMALL_PT,
    "ytick.labelsize": SMALL_PT,
    "legend.fontsize": SMALL_PT,
    "legend.title_fontsize": SMALL_PT,
}

#: Decorator (and context manager) that draws a figure with :data:`RC`.
styled = mpl.rc_context(RC)


def pixels(points: float) -> float:
    """Height in px on the book's page of text ``points`` (pt) tall: ``points / 72 * DPI``."""
    return points / 72 * DPI


def legend_below(fig: Figure, handles: list, labels: list[str], ncol: int = 2) -> None:
    """One legend for the whole figure ``fig``, outside and below its panels (never on the
    data), in ``ncol`` columns at most: fewer when ``ncol`` would make it wider than the
    figure. The figure grows by the legend's height, so its panels keep their size.

    ``fig`` must use the constrained layout (as :data:`RC` makes it), which places the legend
    below the panels."""
    renderer = fig.canvas.get_renderer()
    for n in range(max(1, min(ncol, len(labels))), 0, -1):
        legend = fig.legend(
            handles,
            labels,
            loc="outside lower center",
            ncol=n,
            fontsize=SMALL_PT,
            frameon=False,
            handlelength=3,
        )
        box = legend.get_window_extent(renderer)
        if n == 1 or box.width <= fig.bbox.width:
            break
        legend.remove()
    fig.set_figheight(fig.get_figheight() + box.height / fig.dpi)
