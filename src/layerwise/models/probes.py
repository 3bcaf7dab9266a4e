"""Model facts measured by probe passes at load time, never looked up by name.

Each probe runs the loaded tokenizer or model on a few inputs and reads the fact from what
they do:

- :func:`special_tokens`: the tokens the tokenizer adds to a text natively, as a prefix
  and a suffix of any length (``tok(text)`` against ``tok(text, add_special_tokens=False)``
  on several texts);
- :func:`layout`: which entry of ``hidden_states`` is the embedding output and which is
  each block's output (state-space models list no embedding output and append the final
  norm's), whether a module acts on the last block's output before
  ``last_hidden_state`` (a final norm, whatever it is called), and whether the top
  layer's entry is before or after it (``top_state``);
- :func:`usable_window`: the longest input the model runs, checked by a forward pass at
  the boundary (a declared limit is a candidate, not the answer: RoBERTa-style position
  ids start after the padding index, so two of its declared positions are unusable);
- :func:`is_causal`: whether a state depends on later tokens;
- :func:`input_lengths`: that inputs of 1 to 9 tokens run;
- :func:`batching`: whether a text's states depend on the other texts of its batch
  (padding), and so how extraction must batch it;
- the model's sentence pooling, read from its sentence-transformers files (:mod:`.pooling`).

A fact the probes cannot settle raises :class:`~layerwise.errors.ProbeError` naming the
model, the fact and a remedy; nothing is defaulted. Their results make the
:class:`~layerwise.models.spec.ModelSpec` (chapter 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ..errors import ProbeError
from . import standin
from .pooling import native_pooling
from .sources import Origin
from .spec import ModelSpec, display_name

#: Texts the special-token probe tokenizes with and without special tokens.
PROBE_TEXTS = ("word", "the cat sat on the mat", "Hello, world! 42 times", "a")
#: Config fields that may declare a context window (the smallest declared one is tried).
WINDOW_FIELDS = (
    "max_position_embeddings",
    "n_positions",
    "n_ctx",
    "max_seq_len",
    "max_sequence_length",
    "seq_length",
    "context_length",
)
#: A tokenizer's ``model_max_length`` at or above this means "not set".
UNSET_TOKENIZER_WINDOW = 10**7
#: The longest window layerwise verifies and uses (tokens): the book's longest input is
#: about 80 tokens, and a forward pass at a long model's full window (SmolLM2: 8,192)
#: would take a minute on a laptop's CPU. A model declaring more is used up to this.
MAX_WINDOW = 2048
#: Candidates below the declared window tried when a forward pass at it fails (RoBERTa's
#: position ids start at padding_idx + 1, so its last two declared positions are unusable).
WINDOW_BACKOFF = 4


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    """Same values (shapes may differ by a transposed batch of one: XLNet is time-major)."""
    if a.numel() != b.numel():
        return False
    return torch.allclose(a.reshape(-1).float(), b.reshape(-1).float(), rtol=rtol, atol=atol)


# ---------------------------------------------------------------- forward passes
def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "to_tuple"):
        value = value.to_tuple()
    if isinstance(value, dict):  # SqueezeBERT's blocks return {"feature_map": states}
        value = tuple(value.values())
    if isinstance(value, tuple | list) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


def _outputs(
    model: nn.Module,
    ids: list[int] | list[list[int]],
    device: str,
    source: str,
    fact: str,
    mask: list[list[int]] | None = None,
) -> Any:
    """The model's outputs (hidden states included) for ``ids`` (one input, or a batch
    with ``mask``). A forward pass that fails raises ProbeError naming ``fact``, the input
    length and the model's own error: a probe never lets a raw exception through."""
    batch = ids if ids and isinstance(ids[0], list) else [ids]
    kwargs = {"attention_mask": torch.tensor(mask, device=device)} if mask is not None else {}
    try:
        with torch.inference_mode():
            return model(
                input_ids=torch.tensor(batch, device=device), output_hidden_states=True, **kwargs
            )
    except Exception as err:  # the model's own code: any exception is its failure
        lengths = sorted({len(b) for b in batch})
        raise ProbeError(
            source,
            fact,
            f"a forward pass on {len(batch)} input(s) of {lengths} tokens failed with "
            f"{type(err).__name__}: {str(err).strip()[:300]}",
            "layerwise runs texts of every length up to the window, alone and in padded "
            "batches; use a model that accepts them (report the architecture to layerwise "
            "if it should)",
        ) from err


# ---------------------------------------------------------------- special tokens
def special_tokens(tok: Any, source: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The ids the tokenizer adds around every text natively: ``(prefix, suffix)``.

    ``tok(text)`` must be ``prefix + tok(text, add_special_tokens=False) + suffix`` with
    the same prefix and suffix for every text of :data:`PROBE_TEXTS`; else ProbeError.
    """
    found = set()
    for text in PROBE_TEXTS:
        bare = list(tok(text, add_special_tokens=False)["input_ids"])
        native = list(tok(text)["input_ids"])
        n = len(bare)
        starts = [k for k in range(len(native) - n + 1) if native[k : k + n] == bare]
        if not starts:
            raise ProbeError(
                source,
                "special tokens",
                f"tok({text!r}) = {native} does not contain tok({text!r}, "
                f"add_special_tokens=False) = {bare} (its special tokens change the text's "
                "own tokens)",
                "use a tokenizer whose post-processor only adds tokens around a text",
            )
        k = starts[0]
        found.add((tuple(native[:k]), tuple(native[k + n :])))
    if len(found) != 1:
        raise ProbeError(
            source,
            "special tokens",
            f"the tokens added around a text differ between texts: {sorted(found)}",
            "use a tokenizer that adds the same special tokens to every text",
        )
    return found.pop()


def boundary_tokens(
    tok: Any, prefix: Sequence[int], suffix: Sequence[int], source: str
) -> tuple[int, int]:
    """The open and close tokens of the paper's wrapped settings (``open + text + close``).

    The tokenizer's own first prefix and last suffix token where it adds them; on a side
    where it adds none, the document-boundary token ``<|endoftext|>`` when the vocabulary
    has one (GPT-2: the authors' wrapping), else BOS (open) or EOS (close), else the other.
    """
    vocab = tok.get_vocab()
    boundary = vocab.get("<|endoftext|>")
    bos, eos = tok.bos_token_id, tok.eos_token_id
    open_id = (
        prefix[0] if prefix else next((t for t in (boundary, bos, eos) if t is not None), None)
    )
    close_id = (
        suffix[-1] if suffix else next((t for t in (boundary, eos, bos) if t is not None), None)
    )
    if open_id is None or close_id is None:
        raise ProbeError(
            source,
            "open and close tokens",
            "the tokenizer adds no special tokens and has no <|endoftext|>, BOS or EOS token",
            "give the tokenizer a bos_token or eos_token (tokenizer_config.json)",
        )
    return int(open_id), int(close_id)


# ---------------------------------------------------------------- layout and final norm
@dataclass(frozen=True)
class Layout:
    """What :func:`layout` found: which entry of ``hidden_states`` each layer is, and the
    final norm.

    ``layer_map[l]`` is the index in ``hidden_states`` of layer ``l`` (0 = the embedding
    output, the first block's input; ``l`` = block ``l``'s output), or ``-1`` when
    ``hidden_states`` lacks the embedding output (state-space and recurrent models: Mamba)
    and it is read as the input of the module ``first_block``. ``top_state`` and
    ``final_norm`` as in :class:`~layerwise.models.spec.ModelSpec`.
    """

    layer_map: tuple[int, ...]
    first_block: str
    top_state: str
    final_norm: str
    hidden_size: int

    @property
    def n_layers(self) -> int:
        return len(self.layer_map) - 1


def _seq(t: torch.Tensor | None, n: int, d: int | None = None) -> torch.Tensor | None:
    """A batch of one's states as ``[n, d]``, cut to the input's ``n`` tokens (Longformer and
    Reformer pad inside the model), whether the tensor is batch-major ``[1, T, d]``,
    time-major ``[T, 1, d]`` (XLNet) or, given ``d``, channel-first ``[1, d, T]``
    (SqueezeBERT's blocks); ``None`` when ``t`` is no such tensor."""
    if t is None or t.dim() != 3 or not t.is_floating_point():
        return None
    t = t[0] if t.shape[0] == 1 else (t[:, 0] if t.shape[1] == 1 else None)
    if t is not None and d is not None and t.shape[-1] != d and t.shape[0] == d:
        t = t.T
    if t is None or t.shape[0] < n or (d is not None and t.shape[-1] != d):
        return None
    return t[:n]


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    return a is not None and b is not None and a.shape == b.shape and _close(a, b)


def _call(args: tuple, kwargs: dict) -> Any:
    return args[0] if args and isinstance(args[0], torch.Tensor) else kwargs.get("hidden_states")


def _hooked_pass(
    model: nn.Module, ids: list[int], device: str, source: str
) -> tuple[Any, list[tuple[str, nn.Module, Any, Any]]]:
    """One forward pass with every module watched: the outputs and, in the order they
    finished, the calls ``(name, module, first input, first output)``. The modules of
    layer lists are watched by wrapping their ``forward`` (SqueezeBERT's encoder calls
    ``layer.forward`` directly, past any hook), every other module by a forward hook."""
    calls: list[tuple[str, nn.Module, Any, Any]] = []

    def record(name: str, module: nn.Module, x: Any, out: Any) -> None:
        y = _first_tensor(out)
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            if x.is_floating_point() and y.is_floating_point():
                calls.append((name, module, x.detach().clone(), y.detach().clone()))

    def hook(name: str):
        return lambda m, args, kwargs, out: record(name, m, _call(args, kwargs), out)

    def wrap(name: str, module: nn.Module):
        original = module.forward

        def forward(*args: Any, **kwargs: Any) -> Any:
            out = original(*args, **kwargs)
            record(name, module, _call(args, kwargs), out)
            return out

        return forward

    blocks = {
        f"{name}.{i}": child
        for name, m in model.named_modules()
        if isinstance(m, nn.ModuleList)
        for i, child in enumerate(m)
    }
    handles = [
        m.register_forward_hook(hook(n), with_kwargs=True)
        for n, m in model.named_modules()
        if n and n not in blocks
    ]
    # a forward set on the instance (accelerate's placement hooks) is put back as it was
    own = {name: m.__dict__.get("forward") for name, m in blocks.items()}
    for name, module in blocks.items():
        module.forward = wrap(name, module)
    try:
        out = _outputs(model, ids, device, source, "hidden-state layout")
    finally:
        for h in handles:
            h.remove()
        for name, module in blocks.items():
            if own[name] is None:
                del module.forward
            else:
                module.forward = own[name]
    return out, calls


def _blocks(
    model: nn.Module, calls: list[tuple[str, nn.Module, Any, Any]], n: int, d: int
) -> list[tuple[str, nn.Module, torch.Tensor, torch.Tensor]]:
    """The calls of the model's blocks, in order: the children of its outermost
    ``ModuleList`` whose calls map ``[n, d]`` states to ``[n, d]`` states (the most such
    calls where several lists qualify). ALBERT calls its one shared layer group once per
    layer: calls, not modules, are counted."""
    lists = [name for name, m in model.named_modules() if name and isinstance(m, nn.ModuleList)]
    found: dict[str, list] = {}
    for name in lists:
        mine = []
        for call in calls:
            parent, _, index = call[0].rpartition(".")
            if parent != name or not index.isdigit():
                continue
            x, y = _seq(call[2], n, d), _seq(call[3], n, d)
            if x is None or y is None:
                mine = []
                break
            mine.append((call[0], call[1], x, y))
        if mine:
            found[name] = mine
    outer = [a for a in found if not any(a.startswith(b + ".") for b in found if b != a)]
    if not outer:
        return []
    return found[max(outer, key=lambda a: len(found[a]))]


def layout(model: nn.Module, ids: list[int], device: str, source: str) -> Layout:
    """The hidden-state layout and the final norm, from one forward pass with every
    module hooked (chapter 2).

    The blocks are the calls of the children of the model's outermost layer list
    (:func:`_blocks`); the embedding output is the first block's input. Each layer is
    matched to the entry of ``hidden_states`` equal to it: most models list the
    embedding output then every block's output; state-space models (Mamba) list the
    blocks' outputs then the final norm's, without the embedding output (read then from
    the first block's input, ``-1``). The last block's output is compared with
    ``last_hidden_state``: equal, nothing acts after the last block (``"no_final_norm"``);
    different, the final norm is the module that maps the one to the other (whatever it is
    called; it must be scale-invariant, as a layer or RMS norm is), and the top layer's
    entry equal to its output is ``"post_norm"``, to its input ``"pre_norm"``.

    Raises ProbeError when an entry of ``hidden_states`` has another length than the
    input (a model that pools or downsamples the sequence between layers: Funnel), when no
    layer list or no entry for a block is found, or when anything but a normalisation
    acts after the last block.
    """
    out, calls = _hooked_pass(model, ids, device, source)
    hidden = getattr(out, "hidden_states", None)
    last = _first_tensor(out)
    if not hidden or len(hidden) < 2 or last is None:
        raise ProbeError(
            source,
            "hidden-state layout",
            "the model returns no hidden states (output_hidden_states=True) or no last hidden "
            "state",
            "use a text model whose forward returns hidden_states",
        )
    n = len(ids)
    states = [_seq(h, n) for h in hidden]
    first = hidden[0].numel() // hidden[0].shape[-1]
    for k, (h, s) in enumerate(zip(hidden, states, strict=True)):
        if s is None or h.numel() // h.shape[-1] != first:
            raise ProbeError(
                source,
                "hidden-state layout",
                f"hidden_states[{k}] has shape {tuple(h.shape)} for an input of {n} tokens: "
                "the model pools or downsamples the sequence between layers (Funnel-style), "
                "so a token's position has no state of its own in every layer",
                "use a model that keeps one state per token in every layer; layerwise does "
                "not map positions across pooled layers",
            )
    d = int(hidden[-1].shape[-1])
    top = _seq(last, n)
    if top is None or top.shape[-1] != d:
        raise ProbeError(
            source,
            "final norm",
            f"last_hidden_state has shape {tuple(last.shape)} but hidden_states have width "
            f"{d} (Reformer-style reversible layers concatenate two streams before the "
            "final norm), so the top layer's two conventions are not states of one kind",
            "use a model whose last_hidden_state has the width of its hidden states",
        )
    blocks = _blocks(model, calls, n, d)
    if not blocks:
        raise ProbeError(
            source,
            "hidden-state layout",
            "no list of blocks (a ModuleList whose modules map the states of every token to "
            "states of every token) was found",
            "report the architecture to layerwise (a probe in models/probes.py)",
        )
    embedding = blocks[0][2]
    outputs = [b[3] for b in blocks]
    layer_map = [next((k for k, s in enumerate(states) if _same(s, embedding)), -1)]
    for j, y in enumerate(outputs[:-1], start=1):
        after = max(layer_map[-1], 0 if layer_map[0] < 0 else layer_map[0] + 1)
        k = next((k for k in range(after, len(states)) if _same(states[k], y)), None)
        if k is None:
            raise ProbeError(
                source,
                "hidden-state layout",
                f"no entry of hidden_states equals block {j}'s output ({blocks[j - 1][0]})",
                "report the architecture to layerwise (a probe in models/probes.py)",
            )
        layer_map.append(k)
    block_out = outputs[-1]
    ends = [k for k, s in enumerate(states) if _same(s, block_out) or _same(s, top)]
    if not ends or ends[-1] <= max(layer_map):
        raise ProbeError(
            source,
            "hidden-state layout",
            f"no entry of hidden_states equals the last block's output ({blocks[-1][0]}) or "
            "last_hidden_state",
            "report the architecture to layerwise (a probe in models/probes.py)",
        )
    layer_map.append(ends[-1])
    first = blocks[0][0] if layer_map[0] < 0 else ""
    top_state, norm = _final_norm(calls, states[ends[-1]], block_out, top, n, source)
    return Layout(tuple(layer_map), first, top_state, norm, d)


def _final_norm(
    calls: list[tuple[str, nn.Module, Any, Any]],
    entry: torch.Tensor,
    block_out: torch.Tensor,
    last: torch.Tensor | None,
    n: int,
    source: str,
) -> tuple[str, str]:
    """``(top_state, module name)``: what acts between the last block's output and
    ``last_hidden_state``, and which of the two the top layer's entry ``entry`` is."""
    if _same(block_out, last):
        return "no_final_norm", ""
    maps = [c for c in calls if _same(_seq(c[2], n), block_out) and _same(_seq(c[3], n), last)]
    if not maps:
        raise ProbeError(
            source,
            "final norm",
            "something changes the last block's output before last_hidden_state, but no "
            "single module maps the one to the other",
            "report the architecture to layerwise (a probe in models/probes.py)",
        )
    name, module, x, _ = maps[0]
    # a layer or RMS norm gives the same output for 100x and 1000x (its epsilon only
    # matters for tiny inputs); a projection scales its output tenfold. In float32, on a
    # copy, so that half precision neither rounds nor overflows the check
    with torch.inference_mode():
        try:
            copy = deepcopy(module).float()
            small, large = copy(100.0 * x.float()), copy(1000.0 * x.float())
        except (TypeError, RuntimeError, AttributeError):
            small = large = None
    if isinstance(small, torch.Tensor) and not _close(small, large, rtol=1e-3, atol=1e-4):
        raise ProbeError(
            source,
            "final norm",
            f"the module {name!r} after the last block is not a normalisation (its output "
            "changes when its input is scaled)",
            "report the architecture to layerwise (a probe in models/probes.py)",
        )
    if _same(entry, last):
        return "post_norm", name
    if _same(entry, block_out):
        return "pre_norm", name
    raise ProbeError(
        source,
        "final norm",
        "the top layer's entry of hidden_states is neither the last block's output nor "
        "last_hidden_state",
        "report the architecture to layerwise (a probe in models/probes.py)",
    )


def find_module(model: nn.Module, name: str) -> nn.Module | None:
    """The module called ``name`` (a name the final-norm probe found), ``None`` for ``""``."""
    return dict(model.named_modules())[name] if name else None


# ---------------------------------------------------------------- window
def declared_window(config: Any, tok: Any) -> int | None:
    """The smallest context window the config (:data:`WINDOW_FIELDS`) or the tokenizer
    (``model_max_length``) declares; ``None`` when neither declares one."""
    found = []
    for name in WINDOW_FIELDS:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            found.append(value)
    limit = getattr(tok, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < UNSET_TOKENIZER_WINDOW:
        found.append(limit)
    return min(found) if found else None


def _runs(model: nn.Module, ids: list[int], device: str) -> bool:
    try:
        out = _outputs(model, ids, device, "", "context window")
    except ProbeError:
        return False
    return all(bool(torch.isfinite(h).all()) for h in out.hidden_states)


def usable_window(model: nn.Module, tok: Any, filler: int, source: str, device: str) -> int:
    """The longest input (tokens) the model runs, at most :data:`MAX_WINDOW`: the declared
    window (:func:`declared_window`), verified by a forward pass at that length with
    finite states; on failure the few lengths below it (:data:`WINDOW_BACKOFF`), then the
    longest that runs, by bisection."""
    declared = declared_window(model.config, tok)
    if declared is None:
        raise ProbeError(
            source,
            "context window",
            "neither its config (" + ", ".join(WINDOW_FIELDS) + ") nor its tokenizer "
            "(model_max_length) declares one",
            "set model_max_length in the model's tokenizer_config.json",
        )
    top = min(declared, MAX_WINDOW)
    for n in range(top, max(top - WINDOW_BACKOFF, 0), -1):
        if _runs(model, [filler] * n, device):
            return n
    low, high = 0, top - WINDOW_BACKOFF  # the longest that runs, by bisection
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if _runs(model, [filler] * mid, device) else (low, mid - 1)
    if low > 0:
        return low
    raise ProbeError(
        source,
        "context window",
        f"it declares {declared} tokens, but a forward pass of {top} tokens (or up to "
        f"{WINDOW_BACKOFF} fewer) fails or gives non-finite states",
        "fix max_position_embeddings in its config.json or model_max_length in its "
        "tokenizer_config.json",
    )


# ---------------------------------------------------------------- causality
def is_causal(model: nn.Module, ids: list[int], other: int, device: str, source: str) -> bool:
    """True when changing the last token leaves every earlier state unchanged (any layer),
    False when it changes one; ProbeError when changing it changes nothing at all."""
    changed = [*ids[:-1], other]
    a = _outputs(model, ids, device, source, "causality")
    b = _outputs(model, changed, device, source, "causality")
    earlier_same = all(
        torch.allclose(x[:, :-1].float(), y[:, :-1].float(), rtol=1e-4, atol=1e-5)
        for x, y in zip(a.hidden_states, b.hidden_states, strict=True)
    )
    if not earlier_same:
        return False
    if torch.allclose(a.hidden_states[-1][:, -1], b.hidden_states[-1][:, -1]):
        raise ProbeError(
            source,
            "causality",
            "changing the last token changes no hidden state at all",
            "check the model's weights (untrained or corrupt?)",
        )
    return True


# ---------------------------------------------------------------- batching
#: Largest relative difference ``|b - a| / |a|`` of any state vector between a text alone
#: and the same text in a batch that still counts as the same state, by dtype: float32
#: batches agree to about 1e-6; half precision rounds differently in other shapes.
BATCH_TOLERANCE = {"float32": 1e-4, "float16": 5e-2, "bfloat16": 5e-2}
#: How extraction may batch a model's inputs (:attr:`~.spec.ModelSpec.batching`), from
#: the cheapest: padded batches of any lengths, batches of inputs of one length (no
#: padding), or one input per forward pass.
BATCHING = ("padded", "equal length", "one at a time")


def _rows(out: Any, row: int, n: int) -> list[torch.Tensor]:
    return [h[row, :n].float() for h in out.hidden_states]


def _relative(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    """The largest ``|b - a| / |a|`` over every state vector of two runs."""
    worst = 0.0
    for x, y in zip(a, b, strict=True):
        size = torch.linalg.vector_norm(x, dim=-1).clamp_min(1e-12)
        worst = max(worst, float((torch.linalg.vector_norm(y - x, dim=-1) / size).max()))
    return worst


def batching(
    model: nn.Module,
    short: list[int],
    long: list[int],
    pad: int,
    other: int,
    device: str,
    dtype: str,
    source: str,
) -> tuple[str, dict[str, float]]:
    """How extraction must batch this model so that every state equals the input's
    one-at-a-time pass (one of :data:`BATCHING`), and the differences measured.

    ``short`` alone is compared with ``short`` right-padded (attention mask 0) beside
    ``long``, and with its padding filled with the token ``other`` instead of ``pad``: a
    model that masks its padding gives the same states all three times (``"padded"``). A
    model without an attention mask (FNet's Fourier mixing) or one that mixes neighbouring
    positions regardless of it (convolutions over the sequence, n-gram embeddings) does
    not; then ``short`` beside a text of its own length (no padding) is compared with
    ``short`` alone: equal, ``"equal length"``, else ``"one at a time"``. Tolerance:
    :data:`BATCH_TOLERANCE` of the dtype.
    """
    tol = BATCH_TOLERANCE.get(dtype, BATCH_TOLERANCE["bfloat16"])
    n, width = len(short), len(long)
    fact = "batch invariance"
    alone = _rows(_outputs(model, short, device, source, fact), 0, n)
    mask = [[1] * n + [0] * (width - n), [1] * width]
    padded = _rows(
        _outputs(model, [short + [pad] * (width - n), long], device, source, fact, mask), 0, n
    )
    refilled = _rows(
        _outputs(model, [short + [other] * (width - n), long], device, source, fact, mask), 0, n
    )
    found = {"padding": _relative(alone, padded), "padding content": _relative(padded, refilled)}
    if max(found.values()) <= tol:
        return "padded", found
    twin = [*long[:n]] if long[:n] != short else [*short[::-1]]
    pair = _rows(_outputs(model, [short, twin], device, source, fact, [[1] * n] * 2), 0, n)
    found["equal length"] = _relative(alone, pair)
    return ("equal length" if found["equal length"] <= tol else "one at a time"), found


def input_lengths(model: nn.Module, filler: int, window: int, device: str, source: str) -> None:
    """ProbeError unless the model runs inputs of 1 to 9 tokens (a one-token word is the
    shortest input layerwise reads; Reformer-style chunked attention runs only some
    lengths)."""
    failed = []
    for n in range(1, min(9, window) + 1):
        try:
            _outputs(model, [filler] * n, device, source, "input lengths")
        except ProbeError as err:
            failed.append((n, err.__cause__))
    if failed:
        n, cause = failed[0]
        raise ProbeError(
            source,
            "input lengths",
            f"it fails on inputs of {[f[0] for f in failed]} tokens (first: "
            f"{type(cause).__name__}: {str(cause).strip()[:200]})",
            "layerwise reads texts of every length from 1 token up to the window; use a "
            "model that runs them (for Reformer-style models, a config whose chunk length "
            "divides every length, e.g. full attention)",
        ) from cause


# ---------------------------------------------------------------- the spec
def discover_spec(origin: Origin, tok: Any, model: nn.Module, device: str, dtype: str) -> ModelSpec:
    """Every fact extraction needs, measured on the loaded tokenizer and model (every
    failure is a ProbeError naming the model, the fact and a remedy)."""
    source = origin.source
    prefix, suffix = special_tokens(tok, source)
    open_id, close_id = boundary_tokens(tok, prefix, suffix, source)
    words = list(tok("the cat sat on the", add_special_tokens=False)["input_ids"])
    probe = [*prefix, *words, *suffix]
    try:
        input_lengths(model, words[0], declared_window(model.config, tok) or 9, device, source)
    except ProbeError as short:
        try:  # a layout layerwise cannot read (Funnel pools) is the deeper reason
            layout(model, probe, device, source)
        except ProbeError as deeper:
            if deeper.__cause__ is None:
                raise deeper from None
        raise short
    found = layout(model, probe, device, source)
    other = [t for t in tok("mat dog", add_special_tokens=False)["input_ids"] if t != words[-1]]
    causal = is_causal(model, [*prefix, *words], other[0] if other else close_id, device, source)
    window = usable_window(model, tok, words[0], source, device)
    longer = [*prefix, *words, *words, *suffix][: max(window, 2)]
    short = probe[: max(1, min(len(probe), len(longer) - 1))]
    mode, differences = batching(
        model, short, longer, close_id, other[0] if other else words[0], device, dtype, source
    )
    return ModelSpec(
        source=source,
        name=display_name(source),
        model_type=model.config.model_type,
        revision=origin.revision,
        n_layers=found.n_layers,
        hidden_size=found.hidden_size,
        max_length=window,
        open_id=open_id,
        close_id=close_id,
        pad_id=close_id,
        prefix_ids=tuple(int(t) for t in prefix),
        suffix_ids=tuple(int(t) for t in suffix),
        top_state=found.top_state,
        final_norm=found.final_norm,
        layer_map=found.layer_map,
        first_block=found.first_block,
        batching=mode,
        batching_differences=differences,
        pooling=native_pooling(source),
        declared_window=int(declared_window(model.config, tok) or 0),
        device=device,
        dtype=dtype,
        causal=causal,
        fingerprint=origin.fingerprint,
        # {"rehearsal": True} on rehearsal weights (random, the paper's architectures)
        extra={"rehearsal": True}
        if origin.folder is not None and standin.is_rehearsal(origin.folder)
        else {},
    )
