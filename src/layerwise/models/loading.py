"""Load any Hugging Face text model: cache first, fail fast, weights only when needed.

Loading is in three steps, so that a run whose extractions are all cached never
reads the weights: the *origin* (:mod:`.sources`) is resolved first, then the
tokenizer is loaded, and the spec is read from the cache of specs when ``cache_dir``
is given; the weights load on the first use of :attr:`LoadedModel.model`. Custom
model code (``auto_map``) is never run. Identity is checked where it is used: before and
after the weights are read, a folder's or package's files must still hash to the
fingerprint the cache keys name (:func:`check_unchanged`), and a cached spec is labelled
with the source being loaded, never the one it was first written for.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelLoadError
from ..files import atomic_write_text
from .device import DTYPES, check_device, check_device_map, resolve_dtype
from .fingerprint import DigestMemo, code_version, folder_digest
from .probes import discover_spec, find_module
from .sources import Origin, resolve_origin
from .spec import LoadedModel, ModelSpec, display_name
from .weights import check_finite, load_tokenizer, load_weights, refuse_custom_code


def _spec_path(cache_dir: Path, origin: Origin, device: str, dtype: str) -> Path:
    parts = [origin.fingerprint, dtype, torch.device(device).type, code_version()]
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return cache_dir / "specs" / f"{key}.json"


def _read_spec(path: Path, device: str, origin: Origin) -> ModelSpec | None:
    """The cached spec of ``origin``'s weights, labelled with ``origin``'s own source: a
    copy of a folder has the same files (the same key) but its own path, and a spec cache
    hit never changes the label of the model it describes."""
    try:
        fields = json.loads(path.read_text())
        if fields.get("fingerprint") != origin.fingerprint:
            return None
        fields |= {
            "device": device,
            "source": origin.source,
            "name": display_name(origin.source),
            "revision": origin.revision,
        }
        return ModelSpec(**fields)
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def check_unchanged(origin: Origin, memo: DigestMemo | None = None) -> None:
    """Raise :class:`ModelLoadError` when the files of a folder or packaged model no longer
    hash to the fingerprint they had when it was loaded (the fingerprint every cache key of
    its states names). Hub snapshots (named by their commit) and tiny models cannot change."""
    if origin.kind not in ("folder", "package") or origin.folder is None:
        return
    then = origin.fingerprint.rpartition(":")[2]
    try:
        now = folder_digest(origin.folder, memo) if origin.folder.is_dir() else "gone"
    except OSError as err:
        now = f"unreadable ({err.strerror or err})"
    if now != then:
        raise ModelLoadError(
            f"model {origin.source!r}: its files in {origin.folder} changed since it was "
            f"loaded (sha256 {then[:12]}... then, {now[:12]}... now), so its hidden states "
            "would be cached under the old weights' fingerprint. Remedy: load it again "
            "(load_model, or re-run the command or the notebook's loading cell)."
        )


def _write_spec(path: Path, spec: ModelSpec) -> None:
    with contextlib.suppress(OSError):
        atomic_write_text(path, json.dumps(spec.as_dict(), sort_keys=True))


@contextlib.contextmanager
def _timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start


def load_model(
    source: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    revision: str | None = None,
    log: Callable[[str], None] | None = None,
    cache_dir: str | Path | None = None,
    lazy: bool = False,
    device_map: str | dict | None = None,
    max_memory: dict | None = None,
    offload_folder: str | Path | None = None,
) -> LoadedModel:
    """Load a tokenizer and base model from a hub id, folder, ``package:`` or ``tiny:`` source.

    Looks in the local cache first; when the model is neither cached nor reachable it
    fails within seconds with a :class:`~layerwise.errors.ModelLoadError` naming the
    remedies. It never substitutes another model and never runs a model's own code
    (``trust_remote_code=False``). ``revision`` pins a hub commit, branch or tag; a source
    may name one itself, ``HUB_ID@REVISION`` (:func:`~.hub.split_revision`).
    ``dtype``: ``auto`` (bfloat16 on a GPU that runs it, else float32:
    :func:`~.device.resolve_dtype`), ``float32``, ``float16`` or ``bfloat16``.
    ``device_map`` (``"auto"`` or a dict; needs accelerate) spreads a model larger than one
    device over the GPUs, the CPU (``max_memory``, e.g. ``{0: "70GiB", "cpu": "200GiB"}``)
    and disk (``offload_folder``); inputs then go to ``device`` and accelerate moves each
    layer's activations. With ``cache_dir`` the spec (and a converted GGUF tokenizer and
    weights) is kept there; with ``lazy`` too, the weights are read only when first used
    (a cache miss). Errors on bad input (:class:`~layerwise.errors.InputError`) are raised
    before any file is read.
    """
    check_device_map(device_map, max_memory)
    device = check_device(device, dtype)
    dtype = resolve_dtype(dtype, device)
    placement = (
        {"device_map": device_map, "max_memory": max_memory, "offload_folder": offload_folder}
        if device_map is not None
        else None
    )
    root = Path(cache_dir) if cache_dir is not None else None
    memo = DigestMemo(root / "models" / "digests.json" if root else None)
    with _timer() as elapsed:
        origin = resolve_origin(source, revision, memo)
        refuse_custom_code(origin)
        tok = load_tokenizer(origin, root / "models" if root else None)
        spec_path = _spec_path(root / "models", origin, device, dtype) if root else None

        def weights() -> nn.Module:
            check_unchanged(origin, memo)  # the files read are the ones the keys name
            model = load_weights(origin, tok, dtype, root / "models" if root else None, placement)
            check_unchanged(origin, memo)  # and they did not change while being read
            if placement is None:  # accelerate placed (and will move) a mapped model
                model = model.to(device=device, dtype=DTYPES[dtype])
            check_finite(origin, model, dtype)  # before a probe blames the architecture
            return model.eval()

        spec = _read_spec(spec_path, device, origin) if (spec_path and lazy) else None
        if spec is not None:
            lm = LoadedModel(spec, tok, loader=lambda: _checked(weights(), spec, spec_path))
        else:
            model = weights()
            spec = discover_spec(origin, tok, model, device, dtype)
            if spec_path is not None:
                _write_spec(spec_path, spec)
            lm = LoadedModel(spec, tok, model, find_module(model, spec.final_norm))
    if log:
        how = "weights deferred" if not lm.weights_loaded else f"on {device}"
        log(f"loaded {spec.name} ({source}, {spec.revision}) in {elapsed():.1f}s, {how}")
    return lm


def _checked(
    model: nn.Module, spec: ModelSpec, spec_path: Path | None
) -> tuple[nn.Module, nn.Module | None]:
    """Weights loaded after a cached spec: check they match it, find the norm it names."""
    config = model.config
    layers, hidden = int(config.num_hidden_layers), int(config.hidden_size)
    if layers != spec.n_layers or hidden != spec.hidden_size:
        raise ModelLoadError(
            f"model {spec.source!r}: its weights have {layers} layers of size {hidden}, but "
            f"its cached spec {spec_path} says {spec.n_layers} of size {spec.hidden_size} "
            f"(a stale spec). Remedy: delete {spec_path} and load the model again."
        )
    try:
        return model, find_module(model, spec.final_norm)
    except KeyError:
        raise ModelLoadError(
            f"model {spec.source!r}: its cached spec {spec_path} names a final norm "
            f"{spec.final_norm!r} the weights do not have (a stale spec). Remedy: delete "
            f"{spec_path} and load the model again."
        ) from None
