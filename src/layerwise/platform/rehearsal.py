"""The rehearsal: the ``paper`` profile's loading path, offline, on random weights.

The hub models of the ``paper`` profile (``gpt2``, ``openai/clip-vit-base-patch32``)
cannot be downloaded everywhere. :func:`build` writes stand-ins with *exactly* their
architectures (GPT-2 small, 124.4M parameters; the full CLIP ViT-B/32 checkpoint, text
and vision towers, 151.3M) and their exact tokenizers (:mod:`layerwise.models.tokenizers`) into
a local Hugging Face cache, under the paper's hub ids and in the hub's cache layout
(``<hf_home>/hub/models--gpt2/refs/main`` naming a snapshot folder). With
``HF_HOME=<hf_home> HF_HUB_OFFLINE=1`` the real loading code then runs end to end:
a full CLIP checkpoint loaded into its text encoder, GPT-2 without a padding token,
CLIP's 77-token window.

The weights are random (seeded), so **the numbers mean nothing**: every snapshot
carries a marker file, :data:`~layerwise.models.standin.MARKER`, which loading finds so
that the book's banner and ``provenance.json`` say so (``ModelSpec.extra["rehearsal"]``).
The rehearsal cache lives in its own folder (``.cache/rehearsal-hf`` by default), never
in the user's Hugging Face cache, so ``PROFILE=auto`` cannot pick it up by accident.
Re-running the book explains the command (``book/rerun.md``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import InputError
from ..models.standin import MARKER, cached_snapshot, is_rehearsal, marker_for, read_marker
from ..models.tokenizers import CLIP_WINDOW, clip_tokenizer, gpt2_tokenizer

__all__ = [
    "DEFAULT_HF_HOME",
    "MARKER",
    "build",
    "cached_snapshot",
    "commit_id",
    "env_line",
    "is_rehearsal",
    "marker_for",
    "read_marker",
]

NOTE = "random weights, the paper's architectures; the numbers mean nothing"
#: Bumped when the layout or the content of a snapshot changes (enters the commit id).
FORMAT = 1
#: Default folder, relative to the current directory (used as HF_HOME).
DEFAULT_HF_HOME = Path(".cache") / "rehearsal-hf"
#: Context windows the real hub tokenizers declare (``model_max_length``).
WINDOWS = {"gpt2": 1024, "openai/clip-vit-base-patch32": CLIP_WINDOW}


def default_configs() -> dict[str, Any]:
    """Hub id -> the paper model's configuration (the library defaults are those models)."""
    from transformers import CLIPConfig, GPT2Config

    return {"gpt2": GPT2Config(), "openai/clip-vit-base-patch32": CLIPConfig()}


def _check_known(repo_id: str) -> None:
    if repo_id not in WINDOWS:
        raise InputError(f"no rehearsal for {repo_id!r}; known: {sorted(WINDOWS)}")


def _model_and_tokenizer(repo_id: str, config: Any) -> tuple[torch.nn.Module, Any]:
    from transformers import CLIPModel, GPT2LMHeadModel

    _check_known(repo_id)
    if repo_id == "gpt2":
        return GPT2LMHeadModel(config), gpt2_tokenizer()
    return CLIPModel(config), clip_tokenizer()


def commit_id(repo_id: str, config: Any, seed: int) -> str:
    """A deterministic 40-hex snapshot id from what determines the files."""
    identity = {
        "repo": repo_id,
        "seed": seed,
        "format": FORMAT,
        "config": config.to_dict(),
    }
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()


def repo_folder(hf_home: Path, repo_id: str) -> Path:
    """``<hf_home>/hub/models--<org>--<name>``, the hub cache's folder for a model repo."""
    return Path(hf_home) / "hub" / ("models--" + repo_id.replace("/", "--"))


def _up_to_date(snapshot: Path, seed: int) -> bool:
    marker = read_marker(snapshot)
    return bool(marker and marker.get("seed") == seed and marker.get("complete"))


def _write_snapshot(repo_id: str, config: Any, seed: int, snapshot: Path) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model, tok = _model_and_tokenizer(repo_id, config)
    tok.model_max_length = WINDOWS[repo_id]
    snapshot.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(snapshot, safe_serialization=True)
    tok.save_pretrained(snapshot)
    n_params = sum(p.numel() for p in model.parameters())
    marker = {
        "rehearsal": True,
        "seed": seed,
        "note": NOTE,
        "repo_id": repo_id,
        "architecture": type(model).__name__,
        "parameters": n_params,
        "complete": True,
    }
    # the marker is written last: a half-written snapshot is rebuilt on the next call
    (snapshot / MARKER).write_text(json.dumps(marker, indent=2) + "\n")


def build(
    hf_home: Path,
    *,
    seed: int = 0,
    configs: Mapping[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write the rehearsal models into the hub cache under ``hf_home``; returns hub id ->
    snapshot folder. ``configs`` (hub id -> config) replaces the paper's configurations,
    e.g. with small ones for tests. Idempotent: a snapshot already built from the same
    configuration and seed is left as it is."""
    configs = dict(configs) if configs is not None else default_configs()
    out: dict[str, Path] = {}
    for repo_id, given in configs.items():
        _check_known(repo_id)
        config = copy.deepcopy(given)  # saving sets fields (architectures) on the config
        commit = commit_id(repo_id, config, seed)
        repo = repo_folder(hf_home, repo_id)
        snapshot = repo / "snapshots" / commit
        if _up_to_date(snapshot, seed):
            if log:
                log(f"{repo_id}: rehearsal snapshot {commit[:12]} already built")
        else:
            if log:
                log(f"{repo_id}: writing random-weight rehearsal snapshot {commit[:12]}")
            _write_snapshot(repo_id, config, seed, snapshot)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        out[repo_id] = snapshot
    return out


def env_line(hf_home: Path) -> str:
    """The environment to run the ``paper`` profile on the rehearsal cache."""
    return f"HF_HOME={Path(hf_home).resolve()} HF_HUB_OFFLINE=1"
