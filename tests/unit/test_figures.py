"""Tests for layerwise.report.figures and comparison_figures: every figure fits the book's
column at the book's dpi without shrinking, its text is legible there, its legend never
covers a panel, its labels are words rather than table ids, and Figure 1.1's window labels
never overprint. Synthetic tidy tables; no model, no torch."""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from layerwise import data  # noqa: E402
from layerwise.report import comparison_figures, figures, labels, style  # noqa: E402

#: The book's content column at a 1280 px browser width (672-740 px): the narrowest.
COLUMN_PX = 672
#: The smallest text height (font size in px on the page) a reader is asked to read.
MIN_TEXT_PX = 10

ROLES = {"contrastive": "clip-like", "causal": "gpt2-like"}


def _rows(rng, layers: int = 12, **cols) -> list[dict]:
    out = []
    for role, model in ROLES.items():
        for layer in range(layers + 1):
            v = rng.uniform(0, 1)
            out.append(
                {"model": model, "role": role, "layer": layer, "top": "native"}
                | {"value": v, "low": v - 0.05, "high": v + 0.05}
                | cols
            )
    return out


def _geometry(rng) -> pd.DataFrame:
    measures = ("self_similarity", "top5_share", "top8_share")
    measures += ("top5_share_script", "top8_share_script")
    return pd.DataFrame([r for m in measures for r in _rows(rng, measure=m)])


def _words(rng, tasks) -> pd.DataFrame:
    settings = ("bare", "wrapped", "eos")
    return pd.DataFrame(
        [r for t in tasks for st in settings for r in _rows(rng, task=t, setting=st)]
    )


def _sentences(rng) -> pd.DataFrame:
    return pd.DataFrame([r for st in ("eos", "last", "mean") for r in _rows(rng, setting=st)])


def _compare(rng, **values) -> pd.DataFrame:
    """A chapter 7 table: three models of different depth, every combination of ``values``."""
    out = []
    keys = list(values)
    for model, depth in (("clip-like", 4), ("gpt2-like", 4), ("minilm-like", 6)):
        for combo in itertools.product(*values.values()):
            for layer in range(depth + 1):
                v = rng.uniform()
                out.append(
                    {"model": model, "layer": layer, "depth": layer / depth, "value": v}
                    | {"low": v - 0.1, "high": v + 0.1}
                    | dict(zip(keys, combo, strict=True))
                )
    return pd.DataFrame(out)


def _figures():
    """Every figure function of the book, drawn from synthetic tables: name -> Figure."""
    rng = np.random.default_rng(0)
    sims = list(data.word_similarity_tasks())
    iso = _compare(
        rng,
        sample=["cwe", "sentences eos"],
        measure=["isoscore", "uniformity", "alignment"],
    )
    post = _compare(
        rng,
        method=["raw", "centered", "standardized", "abtt"],
        task=["cwe_self_similarity"],
        setting=["cwe"],
    )
    return {
        "figure1": lambda: figures.figure1(_geometry(rng)),
        "figure2": lambda: figures.figure2(_geometry(rng), script=True),
        "valnorm": lambda: figures.word_task_figure(_words(rng, ["valnorm"]), ["valnorm"]),
        "similarity": lambda: figures.word_task_figure(_words(rng, sims), sims),
        "figure4": lambda: figures.figure4(_sentences(rng)),
        "figure5": lambda: figures.figure5(_sentences(rng)),
        "token_lengths": lambda: figures.token_length_histogram(*_token_lengths()),
        "plot_layers": lambda: comparison_figures.plot_layers(
            iso, "IsoScore of the CWE sample", sample="cwe", measure="isoscore"
        ),
        "plane": lambda: comparison_figures.plot_uniformity_alignment(iso, "sentences eos"),
        "postprocessing": lambda: comparison_figures.plot_postprocessing(
            post, "cwe_self_similarity", "cwe"
        ),
    }


def _token_lengths():
    """Two windows at the same length and one close by: the labels that used to overprint."""
    rng = np.random.default_rng(1)
    counts = {name: rng.integers(3, 120, 300).tolist() for name in ("CLIP", "clip-s", "gpt2-s")}
    return counts, {"CLIP": 77, "clip-s": 77, "gpt2-s": 80, "long": 1024}


@pytest.fixture(params=list(_figures()))
def drawn(request):
    """(name, figure drawn by the Agg renderer, renderer)."""
    fig = _figures()[request.param]()
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    yield request.param, fig, renderer
    plt.close(fig)


def _shown(t: Text) -> bool:
    """A text a reader sees: visible, not empty, not in a hidden panel."""
    in_shown_panel = t.axes is None or t.axes.get_visible()
    return bool(t.get_visible() and t.get_text().strip() and in_shown_panel)


def test_figure_fits_the_column_at_the_books_dpi(drawn):
    """The PNG the notebook shows (bbox_inches="tight", 0.1 in padding) is no wider than the
    column, so the page shows it at its own size."""
    name, fig, renderer = drawn
    assert fig.dpi == style.DPI
    tight = fig.get_tightbbox(renderer)  # inches
    width_px = (tight.width + 0.2) * fig.dpi
    assert width_px <= COLUMN_PX, f"{name}: {width_px:.0f} px"


def test_every_text_is_legible_at_the_books_dpi(drawn):
    name, fig, _ = drawn
    small = {
        t.get_text(): t.get_fontsize() / 72 * fig.dpi
        for t in fig.findobj(Text)
        if _shown(t) and t.get_fontsize() / 72 * fig.dpi < MIN_TEXT_PX
    }
    assert not small, f"{name}: text under {MIN_TEXT_PX} px: {small}"


def test_legend_is_outside_every_panel(drawn):
    name, fig, renderer = drawn
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    assert legends, f"{name} has no legend"
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            if ax.get_visible():
                assert not box.overlaps(ax.get_window_extent(renderer)), (
                    f"{name}: the legend covers a panel"
                )


def test_axis_labels_and_titles_are_words_not_table_ids(drawn):
    name, fig, _ = drawn
    shown = [fig.get_suptitle(), fig.get_supylabel(), fig.get_supxlabel()]
    for ax in fig.axes:
        shown += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
    ids = [text for text in shown if "_" in text]
    assert not ids, f"{name}: raw ids in labels: {ids}"


def test_postprocessing_panels_name_the_measure_and_method_in_words():
    rng = np.random.default_rng(0)
    post = _compare(rng, method=["raw", "abtt"], task=["cwe_self_similarity"], setting=["cwe"])
    fig = comparison_figures.plot_postprocessing(post, "cwe_self_similarity", "cwe")
    assert fig.get_supylabel() == labels.label("cwe_self_similarity")
    assert labels.label("cwe_self_similarity") == "Self-similarity of word embeddings"
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["postprocessing: none (raw)", "postprocessing: all-but-the-top"]
    assert fig.axes[0].get_subplotspec().get_gridspec().ncols <= 2
    plt.close(fig)


def test_multi_panel_figures_have_at_most_two_columns():
    rng = np.random.default_rng(0)
    sims = list(data.word_similarity_tasks())
    for fig in (
        figures.figure2(_geometry(rng)),
        figures.word_task_figure(_words(rng, sims), sims),
        figures.word_task_figure(_words(rng, sims), sims, ncols=3),
    ):
        assert fig.axes[0].get_subplotspec().get_gridspec().ncols <= 2
        plt.close(fig)


def test_token_length_window_labels_do_not_overprint():
    fig = figures.token_length_histogram(*_token_lengths())
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    (ax,) = fig.axes
    boxes = [t.get_window_extent(renderer) for t in ax.texts]
    shown = [t.get_text() for t in ax.texts]
    assert any("77" in t and "CLIP" in t and "clip-s" in t for t in shown)  # one label each
    assert any("80" in t for t in shown) and not any("1024" in t for t in shown)
    for a, b in itertools.combinations(boxes, 2):
        assert not a.overlaps(b), shown
    plt.close(fig)


def test_labels_map_known_ids_and_keep_unknown_ones():
    assert labels.label("isoscore") == "IsoScore"
    assert labels.label("top5_share") == "Share in the top 5 dimensions"
    assert labels.label("rg65") == "RG65"  # the dataset registry's label
    assert labels.label("not_an_id") == "not_an_id"
    df = pd.DataFrame(
        {"isoscore": [0.5], "self_similarity": [0.25]},
        index=pd.MultiIndex.from_tuples([("m", "cwe")], names=["model", "sample"]),
    )
    df.columns.name = "measure"
    out = labels.readable(df)
    assert list(out.columns) == ["IsoScore", "Self-similarity"]
    assert out.index[0] == ("m", "word embeddings (CWEs)")
    assert out.to_numpy().tolist() == df.to_numpy().tolist()  # numbers unchanged
