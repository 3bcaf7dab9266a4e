"""Small display helpers the notebooks share: the models banner and number formatting.

Kept here so that notebook cells hold parameters, calls and narrative only.
"""

from __future__ import annotations

from collections.abc import Mapping

from .models import PROFILES, LoadedModel

PAPER_MODELS = PROFILES["paper"]
ROLE_LABELS = {"contrastive": "CLIP's text encoder", "causal": "GPT-2 small"}


def banner_text(profile: str, models: Mapping[str, LoadedModel] | None = None) -> str:
    """Markdown naming the models actually used and whether they are the paper's."""
    sources = {r: lm.spec.source for r, lm in (models or {}).items()} or dict(PROFILES[profile])
    lines = [f"**Profile `{profile}`.** Models used in this chapter:"]
    for role, source in sources.items():
        name = models[role].spec.name if models else source
        rev = f", revision `{models[role].spec.revision}`" if models else ""
        lines.append(f"- in the role of {ROLE_LABELS[role]}: **{name}** (`{source}`{rev})")
    if sources == PAPER_MODELS:
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
    return "\n".join(lines)


def banner(profile: str, models: Mapping[str, LoadedModel] | None = None):
    """The banner as an IPython Markdown object (displayed at the top of every chapter)."""
    from IPython.display import Markdown

    return Markdown(f":::{{important}}\n{banner_text(profile, models)}\n:::")


def fmt(x: float, digits: int = 2) -> str:
    """A correlation or share the way the paper prints it: ``.73``, ``-.01``."""
    s = f"{x:.{digits}f}"
    return s.replace("0.", ".", 1) if abs(x) < 1 else s


def glue_figure(name: str, fig) -> None:
    """Glue a matplotlib figure for a ``{glue:figure}`` directive and close it, so the
    notebook shows it once, where the prose places it."""
    import matplotlib.pyplot as plt
    from myst_nb import glue

    glue(name, fig, display=False)
    plt.close(fig)
