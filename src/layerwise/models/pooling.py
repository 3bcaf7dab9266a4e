"""A model's own sentence pooling, read from its sentence-transformers files.

Sentence-embedding models such as all-MiniLM-L6-v2 ship ``modules.json`` (the
pipeline: transformer, pooling, normalise) and ``1_Pooling/config.json`` (which
pooling). The chapter 5 setting ``"native"`` reads a sentence the way such a model
does: its native input (open and close tokens included when its tokenizer adds
them) and, for mean pooling, the mean over *all* of that input's tokens; for CLS
pooling the first token; for last-token pooling the last. Normalisation does not
change a cosine, so it is left out. A model that defines no pooling has no
``"native"`` setting (chapter 5, ``notebooks/05_sts.ipynb``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import DataError, InputError
from .hub import split_revision

POOLING_MODULE = "sentence_transformers.models.Pooling"
#: The settings every model has (the paper's two and the mean over the sentence's tokens).
BASE_SETTINGS = ("eos", "last", "mean")
#: Pooling modes that one read span of the native input reproduces exactly.
SPANS = {
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_cls_token": "cls",
    "pooling_mode_lasttoken": "last",
}


def model_folder(source: str) -> Path | None:
    """The folder that holds a model's files: a packaged model's folder, a local folder,
    or the hub snapshot already in the local cache; ``None`` when there is none."""
    if source.startswith("package:"):
        from .sources import PACKAGED_MODELS
        from .tokenizers import package_dir

        if source not in PACKAGED_MODELS:
            return None
        module, pip_name, sub, _ = PACKAGED_MODELS[source]
        return package_dir(module, pip_name) / sub
    if os.path.isdir(source):
        return Path(source)
    if source.startswith("tiny:"):
        return None
    from huggingface_hub import try_to_load_from_cache

    repo, revision = split_revision(source)  # HUB_ID@REV: that revision's snapshot
    found = try_to_load_from_cache(repo, "modules.json", revision=revision)
    return Path(found).parent if isinstance(found, str) else None


def read_pooling(folder: Path | None) -> str | None:
    """``"mean"``, ``"cls"`` or ``"last"`` from ``folder``'s sentence-transformers files;
    ``None`` when the folder defines no pooling module.

    Raises DataError naming the file when the pooling config is unreadable or asks for
    a pooling that one span of hidden states cannot reproduce (max, sqrt-length mean,
    several modes at once).
    """
    if folder is None or not (folder / "modules.json").is_file():
        return None
    modules_file = folder / "modules.json"
    try:
        modules = json.loads(modules_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{modules_file}: not readable JSON ({exc}); reinstall the model") from exc
    pools = [m for m in modules if isinstance(m, dict) and m.get("type") == POOLING_MODULE]
    if not pools:
        return None
    config_file = folder / pools[0].get("path", "") / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"{config_file}: pooling config missing or not JSON ({exc}); reinstall the model"
        ) from exc
    on = sorted(k for k, v in config.items() if k.startswith("pooling_mode") and v is True)
    if len(on) != 1 or on[0] not in SPANS:
        raise DataError(
            f"{config_file}: pooling modes {on or 'none'} cannot be reproduced from one span "
            f"of hidden states; the 'native' setting supports exactly one of {sorted(SPANS)}"
        )
    return SPANS[on[0]]


def native_pooling(source: str) -> str | None:
    """The pooling a model defines (see :func:`read_pooling`), found from its source."""
    return read_pooling(model_folder(source))


def require_pooling(source: str) -> str:
    """The pooling a model defines; InputError when it defines none."""
    mode = native_pooling(source)
    if mode is None:
        raise InputError(
            f"{source}: the model defines no sentence pooling (no sentence-transformers "
            "modules.json with a Pooling module), so the 'native' setting is undefined for it; "
            "use 'eos', 'last' or 'mean'"
        )
    return mode


def native_span(mode: str, n_ids: int) -> tuple[int, int]:
    """The ``[start, stop)`` span of a native input of ``n_ids`` tokens that pooling
    ``mode`` reads: all tokens (mean), the first (cls) or the last (last)."""
    return {"mean": (0, n_ids), "cls": (0, 1), "last": (n_ids - 1, n_ids)}[mode]


def sentence_settings(source: str) -> tuple[str, ...]:
    """The chapter 5 settings defined for a model: ``native`` only where it has one."""
    defined = native_pooling(source) is not None
    return (*BASE_SETTINGS, "native") if defined else BASE_SETTINGS
