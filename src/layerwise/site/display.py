"""Small display helpers the notebooks share: the models banner, tables and figures.

Kept here so that notebook cells hold parameters, calls and narrative only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..data.reference import CLAIMS
from ..files import repository_root
from ..models import standin
from ..models.spec import LoadedModel
from ..pipeline.profiles import PROFILES
from ..report.text import MISSING

PAPER_MODELS = PROFILES["paper"]
ROLE_LABELS = {"contrastive": "CLIP's text encoder", "causal": "GPT-2 small"}
REHEARSAL_HEADLINE = (
    "Rehearsal: random weights, the paper's architectures; the numbers mean nothing."
)


def is_rehearsal(profile: str, models: Mapping[str, LoadedModel] | None = None) -> bool:
    """Whether any model used is a rehearsal stand-in (:mod:`layerwise.platform.rehearsal`): from
    the loaded models' specs, or, before any is loaded, from the Hugging Face cache."""
    if models:
        return any(lm.spec.extra.get("rehearsal") for lm in models.values())
    return any(standin.marker_for(source) for source in PROFILES[profile].values())


def banner_text(
    profile: str,
    models: Mapping[str, LoadedModel] | None = None,
    why: str = "",
    run: Mapping[str, object] | None = None,
    committed: str | None = None,
) -> str:
    """Markdown naming what ran: the profile, the run's other settings ``run`` (e.g.
    ``{"scale": "reduced", "seed": 0}``, the values the chapter received, papermill's
    injected ones included), the models actually used and whether they are the paper's;
    ``why``: how the profile was chosen (:func:`~layerwise.pipeline.profiles.auto_choice`
    when the chapter asked for ``auto``). ``committed``: the repository path of a committed
    chapter that JupyterLab is running in place; the banner then says that its outputs are
    being saved into it and how to work on a copy."""
    sources = {r: lm.spec.source for r, lm in (models or {}).items()} or dict(PROFILES[profile])
    settings = "".join(f", {k} `{v}`" for k, v in (run or {}).items())
    lines = [
        f"**This run: profile `{profile}`{settings}.** {why}".rstrip(),
        "",
        "Models used in this chapter:",
    ]
    for role, source in sources.items():
        name = models[role].spec.name if models else source
        rev = f", revision `{models[role].spec.revision}`" if models else ""
        lines.append(f"- in the role of {ROLE_LABELS[role]}: **{name}** (`{source}`{rev})")
    if is_rehearsal(profile, models):
        lines.insert(0, f"**{REHEARSAL_HEADLINE}**\n")
        lines.append(
            "\nThese models have the paper's architectures and exact tokenizers but "
            "randomly initialised weights, built by `python -m layerwise rehearse` to test "
            "the `paper` profile's code path offline. No number in this chapter is a result, "
            "and none may be compared with the paper's."
        )
    elif sources == PAPER_MODELS:
        lines.append("\nThese are the paper's models; numbers are comparable with the paper's.")
    else:
        lines.append(
            "\n**These are stand-ins, not the paper's models.** Their numbers show whether the "
            "paper's claims hold in *direction* for another contrastive and another causal "
            "model; they are never the paper's numbers, which appear beside them for reference."
        )
        if profile == "tiny":
            lines.append(
                "The `tiny` models are randomly initialised: their numbers test the pipeline and "
                "carry no linguistic meaning."
            )
    if committed:
        lines += [
            "",
            f"**You are running the committed chapter `{committed}` in place.** JupyterLab "
            "saves every output and edited parameter into it, and `git status` will show it "
            "changed. Work on a copy instead: `make student` (chapters without solutions) or "
            "`cp -r notebooks my-notebooks`, then open the copy; `git checkout notebooks/` "
            "undoes the changes here.",
        ]
    return "\n".join(lines)


def banner(
    profile: str,
    models: Mapping[str, LoadedModel] | None = None,
    why: str = "",
    run: Mapping[str, object] | None = None,
    committed: str | None = None,
):
    """The banner as an IPython Markdown object (displayed at the top of every chapter);
    the arguments are :func:`banner_text`'s."""
    from IPython.display import Markdown

    kind = "warning" if committed or is_rehearsal(profile, models) else "important"
    text = banner_text(profile, models, why, run, committed)
    return Markdown(f":::{{{kind}}}\n{text}\n:::")


def compare_note(profile: str, models: Mapping[str, LoadedModel] | None = None) -> str:
    """One sentence on what a side-by-side with the paper's values may be read for."""
    if is_rehearsal(profile, models):
        return (
            "These are rehearsal models (the paper's architectures with random weights), so "
            "neither the values nor the directions mean anything: the comparison only shows "
            "that the pipeline runs."
        )
    if profile == "paper":
        return "These are the paper's models, so the values themselves are compared."
    note = (
        "The models are stand-ins for the paper's, so their values are not the paper's; "
        "what carries over is the direction of each comparison between the two roles."
    )
    if profile == "tiny":
        note += " The tiny models are random, so even the directions mean nothing here."
    return note


def shown_path(path: str | os.PathLike[str], root: Path | None = None) -> str:
    """A path the way a chapter shows it: relative to the repository root
    (``results/offline/cwe_geometry.csv``), else under ``~``, never the build machine's
    absolute path when it lies in either."""
    full = Path(path).expanduser().resolve()
    root = root or repository_root()
    if root is not None and full.is_relative_to(root.resolve()):
        return full.relative_to(root.resolve()).as_posix() or "."
    home = Path.home().resolve()
    if full.is_relative_to(home):
        return "~/" + full.relative_to(home).as_posix()
    return full.as_posix()


#: Said in place of a table that has no rows, when its caller gives no reason.
EMPTY_TABLE = "This table has no rows: nothing in this run produced one."
#: Claims (:data:`layerwise.data.reference.CLAIMS` keys) whose reproduced value is a count
#: of word tasks (``Claim.counts``), stored as a float in the ``reproduced`` column.
COUNT_CLAIMS = frozenset(c.key for c in CLAIMS if c.counts)
#: Text columns whose longest value is longer than this many characters get a minimum
#: width, so that they wrap as sentences rather than one word a line.
LONG_TEXT = 40


def reader_table(
    df,
    digits: int = 3,
    *,
    formats=None,
    hide_index: bool = False,
    readable: bool = False,
    empty: str | None = None,
):
    """``df`` rounded to ``digits`` with an en dash where a value is undefined (NaN), as a
    pandas Styler for the book's pages; the caption beside it says why a value is missing.

    ``formats`` maps a column to a format string (``"{:+.3f}"``, undefined values still an
    en dash) or to a function that receives every value, missing ones included (e.g.
    ``report.table1.holds_text``). Counts print as integers: integer columns, and the
    ``reproduced`` value of a claim that counts tasks (:data:`COUNT_CLAIMS`, in a
    :func:`~layerwise.report.table1.claim_checks` table). A text column with long values
    keeps a minimum width so that it wraps as sentences. With ``readable`` the ids in the
    column names and index (``isoscore``, ``cwe_self_similarity``) are shown by their human
    names (:func:`layerwise.report.labels.readable`; ``formats`` still names the ids); the
    numbers are unchanged.

    A ``df`` without rows is not drawn as a lone header: the result is then a Markdown
    sentence, ``empty`` (the caller says why the table is empty) or :data:`EMPTY_TABLE`.
    The table carries the ``dataframe`` class, so the book's theme draws it like every
    other table (a bare Styler table has no cell padding).
    """
    import pandas as pd

    if len(df) == 0:
        from IPython.display import Markdown

        return Markdown(empty or EMPTY_TABLE)
    if readable:
        from ..report.labels import label, readable

        df = readable(df)
        formats = {label(column): fmt for column, fmt in (formats or {}).items()}
    styler = df.style.format(precision=digits, na_rep=MISSING)
    for column, fmt in (formats or {}).items():
        na_rep = None if callable(fmt) else MISSING
        styler = styler.format(fmt, subset=[column], na_rep=na_rep)
    counts = _count_cells(df)
    if counts is not None:
        styler = styler.format("{:.0f}", subset=counts, na_rep=MISSING)
    for column in df.columns:
        text = df[column].dtype == object or pd.api.types.is_string_dtype(df[column])
        if text and df[column].astype(str).str.len().max() > LONG_TEXT:
            styler = styler.set_properties(subset=[column], **{"min-width": "16em"})
    if hide_index:
        styler = styler.hide(axis="index")
    return styler.set_table_attributes('class="dataframe"')


def claims_table(claims):
    """A :func:`~layerwise.report.table1.claim_checks` table as the chapters show it
    (chapters 3, 4 and 6): one row per claim, no index, the numbers to 3 decimals, the
    difference signed, each verdict in words (``holds``, ``does not hold``, ``undefined``:
    :func:`~layerwise.report.table1.holds_text`), counts as integers and the column ids by
    their names (:func:`reader_table` with ``readable``)."""
    from ..report.table1 import holds_text

    return reader_table(
        claims,
        formats={
            "reproduced": "{:.3f}",
            "paper": "{:.3f}",
            "difference": "{:+.3f}",
            "direction_holds": holds_text,
        },
        hide_index=True,
        readable=True,
    )


def _count_cells(df):
    """The cells of ``df`` that hold counts stored as floats, as a Styler subset: the
    ``reproduced`` value of each counting claim; None when there is none."""
    import pandas as pd

    if not {"claim", "reproduced"} <= set(df.columns):
        return None
    counting = {c.text for c in CLAIMS if c.counts}
    rows = df.index[df["claim"].isin(counting)]
    return pd.IndexSlice[rows, ["reproduced"]] if len(rows) else None


def show_figure(fig) -> None:
    """Show a matplotlib figure as the cell's output, once, and close it.

    The figure is the cell's own image output, so JupyterLab shows it where the cell
    stands; in the book, the cell's ``mystnb.figure`` metadata (``name``, ``caption``)
    makes it a numbered figure that ``{numref}`` can cite. Closing it keeps the inline
    backend from drawing it a second time at the end of the cell.
    """
    import matplotlib.pyplot as plt
    from IPython.display import display

    display(fig)
    plt.close(fig)


def request_frame(lm: LoadedModel, requests: Mapping[str, object]):
    """Token strings of each :class:`~layerwise.extract.requests.Request`, one row per label and
    one column per position; the positions a request reads are shown in brackets,
    ``[ato]`` (chapter 2)."""
    import pandas as pd

    rows = {}
    for label, req in requests.items():
        toks = lm.tokenizer.convert_ids_to_tokens(list(req.ids))
        read = {p for start, stop in req.reads for p in range(start, stop)}
        rows[label] = [f"[{t}]" if i in read else t for i, t in enumerate(toks)]
    df = pd.DataFrame.from_dict(rows, orient="index").fillna("")
    df.columns.name = "position"
    return df


def layers_vs_paper(df, paper: Mapping[str, list], *, paper_layers: int = 12, **eq):
    """Per paper layer 0..12: each role's native value read at the same relative depth
    (with the layer read when the model's depth differs), the paper's value and the
    difference. ``paper`` maps role -> the paper's per-layer values (layer 0 first);
    ``eq`` filters ``df`` (e.g. ``measure="self_similarity"``); chapter 3."""
    import numpy as np
    import pandas as pd

    index = pd.RangeIndex(paper_layers + 1, name="paper layer")
    out = {}
    for role, ref in paper.items():
        sel = (df["role"] == role) & (df["top"] == "native")
        for col, val in eq.items():
            sel &= df[col] == val
        ours = df[sel].set_index("layer")["value"].sort_index()
        name, depth = df.loc[sel, "model"].iloc[0], int(ours.index.max())
        read = np.rint(index.to_numpy() / paper_layers * depth).astype(int)
        if depth != paper_layers:
            out[(name, "layer read")] = read
        paper_values = np.full(len(index), np.nan)
        paper_values[: len(ref)] = ref
        out[(name, "reproduced")] = ours.loc[read].to_numpy()
        out[(name, "paper")] = paper_values
        out[(name, "difference")] = out[(name, "reproduced")] - paper_values
    return pd.DataFrame(out, index=index)


def top_conventions_table(df, by: tuple[str, ...] = ("measure",)):
    """The top layer before and after the final layer norm, one row per model and ``by``
    (columns ``native``, ``post_norm``, ``pre_norm``, ``post - pre``), reshaped from
    :func:`layerwise.report.text.top_conventions` (methodology note 7, chapter 3); empty
    when no model has a final norm."""
    import pandas as pd

    from ..report.text import top_conventions as long_form

    by = [c for c in by if c in df.columns]
    long = long_form(df, ["model", *by])
    if long.empty:
        return pd.DataFrame()
    other = long["other convention"]
    native = other.map({"pre_norm": "post_norm", "post_norm": "pre_norm"})
    post = long["native"].where(native == "post_norm", long["other"])
    pre = long["native"].where(native == "pre_norm", long["other"])
    index = pd.MultiIndex.from_frame(long[["model", *by]])
    wide = pd.DataFrame(
        {"native": native.to_numpy(), "post_norm": post.to_numpy(), "pre_norm": pre.to_numpy()},
        index=index,
    )
    wide["post - pre"] = wide["post_norm"] - wide["pre_norm"]
    return wide


def model_table(models: Mapping[str, LoadedModel]):
    """Each model's :class:`~layerwise.models.ModelSpec` as a column, the special tokens
    decoded with its own tokenizer (chapter 2)."""
    import pandas as pd

    rows = {}
    for role, lm in models.items():
        spec, token = lm.spec, lm.tokenizer.convert_ids_to_tokens
        rows[spec.name] = {
            "in the role of": ROLE_LABELS[role],
            "source": spec.source,
            "revision": spec.revision,
            "architecture": spec.model_type,
            "layers (blocks)": spec.n_layers,
            "hidden states per token": spec.n_states,
            "hidden size": spec.hidden_size,
            "context window (tokens)": spec.max_length,
            "tokens the tokenizer adds before a text": " ".join(token(list(spec.prefix_ids)))
            or "none",
            "tokens it adds after a text": " ".join(token(list(spec.suffix_ids))) or "none",
            "open token (wrapped settings)": token(spec.open_id),
            "close token (wrapped settings)": token(spec.close_id),
            "padding token": token(spec.pad_id),
            "tokenizer adds open/close itself": spec.native_wrap,
            "final norm (module found by the probe)": spec.final_norm or "none",
            "top hidden state (final norm)": spec.top_state,
            "layers in hidden_states (-1: first block's input)": " ".join(
                str(k) for k in spec.layer_sources
            ),
            "batching (found by probe)": spec.batching,
            "sentence pooling": spec.pooling or "none",
            "device": spec.device,
            "dtype": spec.dtype,
        }
    return pd.DataFrame(rows)
