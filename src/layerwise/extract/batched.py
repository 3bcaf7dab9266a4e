"""Batched extraction of every hidden state at the read positions of
:class:`~layerwise.extract.requests.Request` objects.

For every read, extraction returns the mean over its span of each hidden state, layer 0
(embedding output) to the top layer: an array ``[n_reads, n_states, d]``.

How (chapter 2, ``notebooks/02_extraction``):

- inputs are sorted by length and batched, padded on the RIGHT, under
  ``torch.inference_mode``: real tokens never attend to the masked padding and
  position ids stay ``0..len-1``, so a batched result equals the one-at-a-time result
  (tested to 1e-5). That holds for every model the package accepts because a probe at
  load measures it (``ModelSpec.batching``): a model whose
  states depend on the padding (FNet mixes every position without a mask; convolutions
  over the sequence reach the padding) is batched by equal lengths, without padding;
- the layers are read from ``hidden_states`` as the layout probe found them
  (``ModelSpec.layer_sources``: Mamba-style models list no
  embedding output, which is then read from the first block's input by a hook);
- positions come from each input's own length, never from token ids (CLIP pads
  with its EOS token);
- only the read positions leave each batch, so memory grows with the number of
  reads, not with tokens x layers;
- in a causal model (:attr:`~layerwise.models.spec.ModelSpec.causal`, found by a probe
  at load) the state at position p depends only on tokens 0..p, so each input is
  cut after its last read position: the tokens after it would be computed and
  thrown away (tested equal to the uncut result);
- the other convention of the top layer (before/after the final layer norm, see
  :attr:`~layerwise.models.spec.ModelSpec.top_state`) is captured with a hook as
  ``top_alt``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..errors import InputError, ModelLoadError
from ..files import temp_name
from ..models.spec import LoadedModel, ModelSpec
from .requests import Request
from .states import Extracted, RawLayers


class _Sink:
    """Where extraction puts each batch's states: an in-memory ``[n, n_states, d]`` array,
    or (``spill`` a folder) a layer-major file there, written row by row with ``pwrite`` so
    the process never holds more than one batch's states."""

    def __init__(self, shape: tuple[int, int, int], spill: Path | None) -> None:
        self.shape = shape
        self.path: Path | None = None
        if spill is None:
            self.array: np.ndarray | None = np.empty(shape, dtype=np.float32)
            return
        self.array = None
        spill.mkdir(parents=True, exist_ok=True)
        prefix, suffix = temp_name("states-")
        fd, name = tempfile.mkstemp(dir=spill, prefix=prefix, suffix=suffix)
        self.fd, self.path = fd, Path(name)
        os.ftruncate(fd, int(np.prod(shape)) * 4)

    def write(self, dest: np.ndarray, layer: int, values: np.ndarray) -> None:
        """``values[i]`` (``[d]``) is read ``dest[i]``'s state at ``layer``."""
        if self.array is not None:
            self.array[dest, layer] = values
            return
        n, _, d = self.shape
        rows = np.ascontiguousarray(values, dtype="<f4")
        for i, row in zip(dest, rows, strict=True):
            os.pwrite(self.fd, row.data, (int(layer) * n + int(i)) * d * 4)

    def result(self, top_alt: np.ndarray | None) -> Extracted:
        if self.array is not None:
            return Extracted(self.array, top_alt)
        os.close(self.fd)
        return Extracted(top_alt=top_alt, layers=RawLayers(self.path, 0, self.shape))

    def discard(self) -> None:
        if self.path is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.path.unlink(missing_ok=True)


#: Padded tokens per batch (``batch_size`` caps the inputs too). On a CPU, small batches
#: keep a layer's activations in the processor's caches: on 2 cores a budget of 1,024
#: tokens ran 5-20% faster than 8,192 for every model and input of the book
#: (``benchmarks/extraction_speed.py``, mode ``cwe_wide``). An accelerator wants wide
#: batches.
MAX_TOKENS = {"cpu": 1024}
MAX_TOKENS_ACCELERATOR = 16384


def default_max_tokens(device: str) -> int:
    """The padded-token budget of a batch on ``device`` (see :data:`MAX_TOKENS`)."""
    return MAX_TOKENS.get(str(device).split(":")[0], MAX_TOKENS_ACCELERATOR)


def _batches(
    lengths: np.ndarray, batch_size: int, max_tokens: int, batching: str = "padded"
) -> list[np.ndarray]:
    """Indices grouped longest first, each batch at most ``batch_size`` inputs and
    ``max_tokens`` padded tokens. ``batching`` (``ModelSpec.batching``):
    ``"padded"`` mixes lengths; ``"equal length"`` puts only inputs of one length in a
    batch (no padding); ``"one at a time"`` one input per batch."""
    if batching == "one at a time":
        batch_size = 1
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = int(lengths[order[start]])
        size = max(1, min(batch_size, max_tokens // max(longest, 1)))
        if batching == "equal length":
            same = int(np.searchsorted(-lengths[order[start:]], -longest, side="right"))
            size = min(size, same)
        batches.append(order[start : start + size])
        start += size
    return batches


def extract(
    lm: LoadedModel,
    requests: Sequence[Request],
    *,
    batch_size: int = 64,
    max_tokens: int | None = None,
    progress: bool | None = None,
    desc: str = "extracting",
    spill: str | os.PathLike[str] | None = None,
    padding: bool = True,
) -> Extracted:
    """Run ``requests`` through the model in length-sorted, right-padded batches
    (``padding=False``: batches of inputs of one length, no padding; the extraction plan,
    :mod:`layerwise.store.plan`, runs so).

    Returns the mean hidden state over each read span at every layer, in the
    order of ``requests`` and, within a request, of its reads. ``max_tokens`` caps
    the padded tokens of a batch (default: :func:`default_max_tokens` of the model's
    device, the same budget on a GPU whatever the dtype). ``spill``: a folder where the
    states are written layer-major as they come (a temporary of the package's, which the
    caller moves or removes), so host memory holds one batch's states, not all of them;
    the result then reads them from there (:class:`~layerwise.extract.states.RawLayers`). Raises
    :class:`~layerwise.errors.InputError` for no requests, a bad batch size or an input
    longer than the window, :class:`~layerwise.errors.ModelLoadError` for non-finite states.
    """
    if not requests:
        raise InputError("nothing to extract: no requests")
    if max_tokens is None:
        max_tokens = default_max_tokens(lm.spec.device)
    if int(batch_size) < 1 or int(max_tokens) < 1:
        raise InputError(
            f"batch_size and max_tokens must be positive, got {batch_size} and {max_tokens}"
        )
    spec = lm.spec
    check_window(lm, requests)
    if spec.causal:
        requests = [cut_after_last_read(r) for r in requests]
    n_reads = np.array([len(r.reads) for r in requests])
    first_read = np.concatenate([[0], np.cumsum(n_reads)[:-1]])
    total = int(n_reads.sum())
    sink = _Sink((total, spec.n_states, spec.hidden_size), Path(spill) if spill else None)
    top_alt = (
        np.empty((total, spec.hidden_size), dtype=np.float32)
        if spec.top_state != "no_final_norm"
        else None
    )
    lengths = np.array([len(r.ids) for r in requests])
    batching = spec.batching
    if not padding and batching == "padded":
        batching = "equal length"
    batches = _batches(lengths, batch_size, max_tokens, batching)
    captured: dict[str, torch.Tensor] = {}
    want = "post" if spec.top_state == "pre_norm" else "pre"
    handles = []
    if lm.final_norm is not None:
        handles.append(
            lm.final_norm.register_forward_hook(lambda m, i, o: captured.update(pre=i[0], post=o))
        )
    sources = spec.layer_sources
    if -1 in sources:  # hidden_states lacks the embedding output: the first block's input

        def embedding(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
            first_arg = args[0] if args and torch.is_tensor(args[0]) else None
            captured.setdefault("embedding", kwargs.get("hidden_states", first_arg))

        first = dict(lm.model.named_modules())[spec.first_block]
        handles.append(first.register_forward_pre_hook(embedding, with_kwargs=True))
    show = progress if progress is not None else total > 2000
    # an explicit disable= overrides tqdm's own TQDM_DISABLE default: honour it here (the
    # book's kernels set it, since a saved widget bar would load a CDN script)
    show = show and os.environ.get("TQDM_DISABLE", "") in ("", "0", "false", "False")
    done = False
    try:
        with torch.inference_mode():
            for batch in tqdm(batches, desc=desc, disable=not show, unit="batch"):
                rows, spans, dest = _batch_reads(requests, batch, first_read)
                ids, mask = _pad(requests, batch, lengths, spec.pad_id, spec.device)
                captured.clear()
                out = lm.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
                hidden = _layers(out.hidden_states, sources, captured, spec)
                block = np.stack([_gather(h, rows, spans) for h in hidden], axis=1)
                if top_alt is not None:
                    top_alt[dest] = _gather(captured[want], rows, spans)
                check_finite(lm, requests, batch, rows, block, top_alt, dest)
                for layer in range(spec.n_states):
                    sink.write(dest, layer, block[:, layer])
        done = True
    finally:
        for handle in handles:
            handle.remove()
        if not done:
            sink.discard()
    return sink.result(top_alt)


def _layers(
    hidden: Sequence[torch.Tensor],
    sources: Sequence[int],
    captured: dict[str, torch.Tensor],
    spec: ModelSpec,
) -> list[torch.Tensor]:
    """The states of layers 0..L in order, from the model's ``hidden_states`` laid out as
    the layout probe found (``ModelSpec.layer_sources``)."""
    if max(sources) >= len(hidden):
        raise ModelLoadError(
            f"{spec.name} returned {len(hidden)} hidden states, but its layout (found at "
            f"load) reads entry {max(sources)}; load the model again"
        )
    return [captured["embedding"] if k < 0 else hidden[k] for k in sources]


def check_finite(
    lm: LoadedModel,
    requests: Sequence[Request],
    batch: np.ndarray,
    rows: np.ndarray,
    block: np.ndarray,
    top_alt: np.ndarray | None,
    dest: np.ndarray,
) -> None:
    """ModelLoadError at the first read of a batch whose hidden state is not finite (NaN or
    infinite), naming the model, the layer and the input (decoded, 60 characters). It
    stops extraction there, so nothing computed from these weights is returned or cached."""
    bad = ~np.isfinite(block).all(axis=2)  # [reads, layers]
    other = not bad.any()
    if other:
        if top_alt is None or np.isfinite(top_alt[dest]).all():
            return
        bad = ~np.isfinite(top_alt[dest]).all(axis=1)[:, None]
    read, layer = (int(i) for i in np.argwhere(bad)[0])
    ids = list(requests[int(batch[rows[read]])].ids)
    text = lm.tokenizer.decode(ids, skip_special_tokens=True).strip()
    spec = lm.spec
    where = (
        "the top layer in its other final-norm convention"
        if other
        else f"layer {layer} of {spec.n_layers} (0 = embeddings)"
    )
    remedy = "check the model's weight files (corrupt, or not trained?)"
    if spec.dtype != "float32":
        remedy += f"; in {spec.dtype} values may overflow: load it with --dtype float32"
    raise ModelLoadError(
        f"model {spec.name} ({spec.source}) gives non-finite hidden states (NaN or inf) at "
        f"{where} for the input {text[:60].strip()!r}; extraction stopped and nothing was "
        f"cached. Remedy: {remedy}."
    )


def cut_after_last_read(request: Request) -> Request:
    """The request with its ids cut after the last position it reads (causal models only)."""
    stop = max(b for _, b in request.reads)
    return request if stop == len(request.ids) else Request(request.ids[:stop], request.reads)


def check_window(lm: LoadedModel, requests: Sequence[Request]) -> None:
    """InputError naming the first input (decoded, 60 characters) that exceeds the window."""
    limit = lm.spec.max_length
    too_long = [i for i, r in enumerate(requests) if len(r.ids) > limit]
    if too_long:
        first = requests[too_long[0]]
        text = lm.tokenizer.decode(list(first.ids), skip_special_tokens=True).strip()
        raise InputError(
            f"{len(too_long)} input(s) exceed {lm.spec.name}'s {limit}-token window, "
            f"first {text[:60].strip()!r} ({len(first.ids)} tokens); drop them with "
            "data.filter_to_window first"
        )


def _batch_reads(
    requests: Sequence[Request], batch: np.ndarray, first_read: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows, spans, dest = [], [], []
    for row, i in enumerate(batch):
        for j, span in enumerate(requests[i].reads):
            rows.append(row)
            spans.append(span)
            dest.append(first_read[i] + j)
    return np.array(rows), np.array(spans).reshape(-1, 2), np.array(dest)


def _pad(
    requests: Sequence[Request],
    batch: np.ndarray,
    lengths: np.ndarray,
    pad_id: int,
    device: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    width = int(lengths[batch].max())  # batches are length-sorted: little padding
    ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, i in enumerate(batch):
        n = len(requests[i].ids)
        ids[row, :n] = requests[i].ids
        mask[row, :n] = 1
    return torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device)


def _gather(h: torch.Tensor, rows: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """Mean of ``h[row, start:stop]`` for each read, as float32 numpy ``[n_reads, d]``."""
    single = spans[:, 1] - spans[:, 0] == 1
    out = torch.empty((len(rows), h.shape[-1]), dtype=torch.float32, device=h.device)
    if single.any():
        idx = np.flatnonzero(single)
        out[idx] = h[rows[idx], spans[idx, 0]].float()
    for k in np.flatnonzero(~single):
        start, stop = spans[k]
        out[k] = h[rows[k], start:stop].float().mean(0)
    return out.cpu().numpy()


def batching_check(lm: LoadedModel, requests: Sequence[Request], batch_size: int) -> dict:
    """Batched against one-at-a-time extraction of ``requests`` (chapter 2).

    Returns the largest absolute difference, the largest absolute value, the largest
    relative difference of a vector (``|b - a| / |a|``) and the two wall times.
    """
    start = time.perf_counter()
    batched = extract(lm, requests, batch_size=batch_size, progress=False).states
    mid = time.perf_counter()
    single = np.concatenate([extract(lm, [r], progress=False).states for r in requests])
    end = time.perf_counter()
    rel = np.linalg.norm(batched - single, axis=-1) / np.linalg.norm(single, axis=-1)
    return {
        "max |batched - one at a time|": float(np.abs(batched - single).max()),
        "largest |value|": float(np.abs(single).max()),
        "max relative": float(rel.max()),
        "batched (s)": mid - start,
        "one by one (s)": end - mid,
    }
