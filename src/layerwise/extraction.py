"""Batched extraction of every hidden state at chosen token positions.

The unit of work is a :class:`Request`: the token ids of one input and the
*reads* to take from it, each a half-open span ``[start, stop)`` of positions
(one token: ``(p, p + 1)``; mean pooling: the span of the text's tokens). For
every read, extraction returns the mean over its span of each hidden state,
layer 0 (embedding output) to the top layer: an array ``[n_reads, n_states, d]``.

How (chapter 2, ``notebooks/02_extraction``):
- inputs are sorted by length and batched, padded on the RIGHT, under
  ``torch.inference_mode``: in a causal model real tokens never attend to the
  padding and position ids stay ``0..len-1``, so a batched result equals the
  one-at-a-time result (tested to 1e-5);
- positions come from each input's own length, never from token ids (CLIP pads
  with its EOS token);
- only the read positions leave each batch, so memory grows with the number of
  reads, not with tokens x layers;
- the other convention of the top layer (before/after the final layer norm, see
  :attr:`~layerwise.models.ModelSpec.top_state`) is captured with a hook as
  ``top_alt``.

Position rules for words and sentences in each setting of the paper are the
``*_requests`` functions below; the CWE sampler is :func:`sample_token_positions`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .errors import InputError
from .models import LoadedModel
from .pooling import native_span, require_pooling

#: Bump when a change to this module changes what extraction returns (invalidates caches).
EXTRACTION_VERSION = "1"

#: Word settings (Table 1): how the word is presented and which position is read.
WORD_SETTINGS = {
    "bare": "the word alone, no special tokens; its last subtoken (GPT-2 'no BOS')",
    "wrapped": "open + word + close tokens; the word's last subtoken (CLIP; GPT-2 'with BOS')",
    "eos": "open + word + close tokens; the closing token (CLIP EOS, GPT-2 EOS)",
}
#: Sentence settings (chapter 5).
SENTENCE_SETTINGS = {
    "eos": "open + sentence + close tokens; the closing token",
    "last": "the sentence alone, no special tokens; its last subtoken",
    "mean": "the model's native input; mean over the sentence's own tokens",
    "native": "the model's native input; its own pooling (mean over all tokens, wrap included)",
}


@dataclass(frozen=True)
class Request:
    """Token ids of one input and the spans to read from it (``[start, stop)``)."""

    ids: tuple[int, ...]
    reads: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        n = len(self.ids)
        if n == 0:
            raise InputError("a request needs at least one token")
        if not self.reads:
            raise InputError("a request needs at least one read span")
        for start, stop in self.reads:
            if not 0 <= start < stop <= n:
                raise InputError(f"read span ({start}, {stop}) outside an input of {n} tokens")


@dataclass
class Extracted:
    """Hidden states at the requested reads.

    ``states``: ``[n_reads, n_states, d]`` float32, layer 0 = embedding output;
    ``top_alt``: ``[n_reads, d]``, the top layer in the other final-norm
    convention (``None`` when the model has no final norm).
    """

    states: np.ndarray
    top_alt: np.ndarray | None

    def __len__(self) -> int:
        return len(self.states)

    def take(self, index: np.ndarray | slice | Sequence[int]) -> Extracted:
        alt = None if self.top_alt is None else self.top_alt[index]
        return Extracted(self.states[index], alt)

    def with_top(self, convention: str, spec_top_state: str) -> np.ndarray:
        """States with the top layer in ``convention`` (``"native"``, ``"pre_norm"``,
        ``"post_norm"``); raises when the model cannot provide it."""
        if convention in ("native", spec_top_state):
            return self.states
        if self.top_alt is None:
            raise InputError(f"this model has no final layer norm: no {convention!r} top layer")
        out = self.states.copy()
        out[:, -1] = self.top_alt
        return out


def requests_digest(requests: Sequence[Request]) -> str:
    """sha256 of the requests (ids and reads): the input part of a cache key."""
    h = hashlib.sha256()
    for r in requests:
        h.update(json.dumps([r.ids, r.reads]).encode())
        h.update(b"\n")
    return h.hexdigest()


def _batches(lengths: np.ndarray, batch_size: int, max_tokens: int) -> list[np.ndarray]:
    """Indices grouped longest first, each batch at most ``batch_size`` inputs and
    ``max_tokens`` padded tokens."""
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = int(lengths[order[start]])
        size = max(1, min(batch_size, max_tokens // max(longest, 1)))
        batches.append(order[start : start + size])
        start += size
    return batches


def extract(
    lm: LoadedModel,
    requests: Sequence[Request],
    *,
    batch_size: int = 64,
    max_tokens: int = 8192,
    progress: bool | None = None,
    desc: str = "extracting",
) -> Extracted:
    """Run ``requests`` through the model in length-sorted, right-padded batches.

    Returns the mean hidden state over each read span at every layer, in the
    order of ``requests`` and, within a request, of its reads.
    """
    if not requests:
        raise InputError("nothing to extract: no requests")
    spec = lm.spec
    too_long = [i for i, r in enumerate(requests) if len(r.ids) > spec.max_length]
    if too_long:
        raise InputError(
            f"{len(too_long)} input(s) exceed {spec.name}'s {spec.max_length}-token window "
            f"(first: request {too_long[0]}); filter them with data.filter_to_window first"
        )
    n_reads = np.array([len(r.reads) for r in requests])
    first_read = np.concatenate([[0], np.cumsum(n_reads)[:-1]])
    total = int(n_reads.sum())
    states = np.empty((total, spec.n_states, spec.hidden_size), dtype=np.float32)
    top_alt = (
        np.empty((total, spec.hidden_size), dtype=np.float32) if lm.final_norm is not None else None
    )
    lengths = np.array([len(r.ids) for r in requests])
    batches = _batches(lengths, batch_size, max_tokens)
    captured: dict[str, torch.Tensor] = {}
    want = "post" if spec.top_state == "pre_norm" else "pre"
    handle = None
    if lm.final_norm is not None:
        handle = lm.final_norm.register_forward_hook(
            lambda m, i, o: captured.update(pre=i[0], post=o)
        )
    show = progress if progress is not None else total > 2000
    try:
        with torch.inference_mode():
            for batch in tqdm(batches, desc=desc, disable=not show, unit="batch"):
                rows, spans, dest = _batch_reads(requests, batch, first_read)
                ids, mask = _pad(requests, batch, lengths, spec.pad_id, spec.device)
                out = lm.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
                hidden = out.hidden_states
                if len(hidden) != spec.n_states:
                    raise RuntimeError(f"{spec.name} returned {len(hidden)} hidden states")
                for layer, h in enumerate(hidden):
                    states[dest, layer] = _gather(h, rows, spans)
                if top_alt is not None:
                    top_alt[dest] = _gather(captured[want], rows, spans)
    finally:
        if handle is not None:
            handle.remove()
    return Extracted(states, top_alt)


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


# ------------------------------------------------------------------ position rules
def word_requests(
    lm: LoadedModel, words: Sequence[str], setting: str, *, leading_space: bool = False
) -> list[Request]:
    """One request per word in a Table 1 setting (see :data:`WORD_SETTINGS`).

    ``leading_space`` presents the word as " word" (GPT-2's word-initial form), an
    ablation of the authors' scripts, which concatenate without a space.
    """
    if setting not in WORD_SETTINGS:
        raise InputError(f"unknown word setting {setting!r}; choose one of {list(WORD_SETTINGS)}")
    out = []
    for word in words:
        if not isinstance(word, str) or not word.strip():
            raise InputError(f"words must be non-empty strings, got {word!r}")
        toks = lm.tokens(" " + word if leading_space else word)
        out.append(_text_request(lm, toks, setting, wrapped=setting != "bare"))
    return out


def sentence_requests(lm: LoadedModel, sentences: Sequence[str], setting: str) -> list[Request]:
    """One request per sentence in a chapter 5 setting (see :data:`SENTENCE_SETTINGS`)."""
    if setting not in SENTENCE_SETTINGS:
        raise InputError(
            f"unknown sentence setting {setting!r}; choose one of {list(SENTENCE_SETTINGS)}"
        )
    if setting == "native":  # the model's own pooling, read from its files (pooling.py)
        mode = require_pooling(lm.spec.source)
        reqs = [
            _text_request(lm, lm.tokens(x), "mean", wrapped=lm.spec.native_wrap) for x in sentences
        ]
        return [Request(ids=r.ids, reads=(native_span(mode, len(r.ids)),)) for r in reqs]
    wrapped = {"eos": True, "last": False, "mean": lm.spec.native_wrap}[setting]
    return [_text_request(lm, lm.tokens(s), setting, wrapped=wrapped) for s in sentences]


def _text_request(lm: LoadedModel, toks: list[int], setting: str, *, wrapped: bool) -> Request:
    n = len(toks)
    if wrapped:
        ids = (lm.spec.open_id, *toks, lm.spec.close_id)
        first = 1
    else:
        ids = tuple(toks)
        first = 0
    if setting == "eos":
        read = (len(ids) - 1, len(ids))
    elif setting == "mean":
        read = (first, first + n)
    else:  # bare / wrapped / last: the text's last subtoken
        read = (first + n - 1, first + n)
    return Request(ids=ids, reads=(read,))


@dataclass(frozen=True)
class TokenSample:
    """Sampled token positions: ``sentence[i]``, ``position[i]`` (in the native input)."""

    sentence: np.ndarray
    position: np.ndarray
    n_real_tokens: int


def native_inputs(lm: LoadedModel, sentences: Sequence[str]) -> tuple[list[tuple[int, ...]], int]:
    """Token ids of each sentence as the model natively takes it, and the offset of
    the first real token (1 when the tokenizer wraps, else 0)."""
    spec = lm.spec
    if spec.native_wrap:
        return [(spec.open_id, *lm.tokens(s), spec.close_id) for s in sentences], 1
    return [tuple(lm.tokens(s)) for s in sentences], 0


def sample_token_positions(
    n_tokens_per_sentence: Sequence[int], n: int, rng: np.random.Generator, offset: int = 0
) -> TokenSample:
    """Draw ``n`` distinct real-token positions uniformly over all sentences' tokens.

    ``n_tokens_per_sentence`` counts real tokens only (no BOS/EOS/padding), which
    sit at positions ``offset .. offset + count - 1`` of each input. Sampling is
    without replacement, seeded through ``rng``, and returned sorted by
    (sentence, position) so the same positions can be read at every layer.
    """
    counts = np.asarray(n_tokens_per_sentence, dtype=np.int64)
    total = int(counts.sum())
    if n > total:
        raise InputError(f"cannot sample {n} token positions from {total} real tokens")
    flat = np.sort(rng.choice(total, size=n, replace=False))
    ends = np.cumsum(counts)
    sentence = np.searchsorted(ends, flat, side="right")
    starts = ends - counts
    position = flat - starts[sentence] + offset
    return TokenSample(sentence=sentence, position=position, n_real_tokens=total)


def cwe_requests(
    lm: LoadedModel,
    sentences: Sequence[str],
    n: int,
    rng: np.random.Generator,
    *,
    include_special: bool = False,
) -> tuple[list[Request], TokenSample]:
    """Requests reading ``n`` randomly sampled real tokens of ``sentences`` (Figures 1-2).

    Only sentences holding at least one sampled token are run. ``include_special``
    samples over every position of the native input, BOS/EOS included (the
    authors' script, methodology note 2), for the ablation of chapter 6.
    """
    inputs, offset = native_inputs(lm, sentences)
    if include_special:
        offset = 0
    counts = [len(ids) - 2 * offset for ids in inputs]
    sample = sample_token_positions(counts, n, rng, offset)
    requests = []
    for s in np.unique(sample.sentence):
        positions = sample.position[sample.sentence == s]
        requests.append(
            Request(ids=inputs[s], reads=tuple((int(p), int(p) + 1) for p in positions))
        )
    return requests, sample


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-appearance order without repeats."""
    return list(dict.fromkeys(items))
