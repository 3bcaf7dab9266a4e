"""Model facts measured by probe passes at load time, never looked up by name.

Each probe runs the loaded tokenizer or model on a few inputs and reads the fact from what
they do:

- :func:`special_tokens`: the tokens the tokenizer adds to a text natively, as a prefix
  and a suffix of any length (``tok(text)`` against ``tok(text, add_special_tokens=False)``
  on several texts);
- :func:`final_norm`: whether a module acts on the last block's output before
  ``last_hidden_state`` (a final norm, whatever it is called), and whether
  ``hidden_states[-1]`` is before or after it (``top_state``);
- :func:`usable_window`: the longest input the model runs, checked by a forward pass at
  the boundary (a declared limit is a candidate, not the answer: RoBERTa-style position
  ids start after the padding index, so two of its declared positions are unusable);
- :func:`is_causal`: whether a state depends on later tokens;
- the model's sentence pooling, read from its sentence-transformers files (:mod:`.pooling`).

A fact the probes cannot settle raises :class:`~layerwise.errors.ProbeError` naming the
model, the fact and a remedy; nothing is defaulted. Their results make the
:class:`~layerwise.models.spec.ModelSpec` (chapter 2).
"""

from __future__ import annotations

from collections.abc import Sequence
from copy import deepcopy
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


# ---------------------------------------------------------------- final norm
def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if hasattr(value, "to_tuple"):
        value = value.to_tuple()
    if isinstance(value, tuple | list) and value and isinstance(value[0], torch.Tensor):
        return value[0]
    return None


def _outputs(model: nn.Module, ids: list[int], device: str) -> Any:
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ids], device=device), output_hidden_states=True)


def final_norm(model: nn.Module, ids: list[int], device: str, source: str) -> tuple[str, str]:
    """``(top_state, module name)`` found from one forward pass with every module hooked.

    The last block is the outermost call whose input is ``hidden_states[-2]`` (the input
    of the last block in every architecture); its output is compared with
    ``last_hidden_state``. Equal: nothing acts after the last block (``"no_final_norm"``,
    name ``""``). Different: the final norm is the module that maps the one to the other
    (whatever it is called; it must be scale-invariant, as a layer or RMS norm is), and
    ``hidden_states[-1]`` equal to its output is ``"post_norm"``, to its input
    ``"pre_norm"``. Anything else raises ProbeError.
    """
    calls: list[tuple[str, nn.Module, torch.Tensor, torch.Tensor]] = []

    def hook(name: str):
        def record(module: nn.Module, args: tuple, kwargs: dict, out: Any) -> None:
            x = (
                args[0]
                if args and isinstance(args[0], torch.Tensor)
                else kwargs.get("hidden_states")
            )
            y = _first_tensor(out)
            if isinstance(x, torch.Tensor) and y is not None and x.is_floating_point():
                if y.is_floating_point():
                    calls.append((name, module, x.detach().clone(), y.detach().clone()))

        return record

    handles = [
        m.register_forward_hook(hook(n), with_kwargs=True) for n, m in model.named_modules() if n
    ]
    try:
        out = _outputs(model, ids, device)
    finally:
        for h in handles:
            h.remove()
    hidden = out.hidden_states
    last = _first_tensor(out)
    if hidden is None or len(hidden) < 2 or last is None:
        raise ProbeError(
            source,
            "final norm",
            "the model returns no hidden states (output_hidden_states=True) or no last hidden "
            "state",
            "use a text model whose forward returns hidden_states",
        )
    blocks = [c for c in calls if _close(c[2], hidden[-2]) and c[3].numel() == last.numel()]
    if not blocks:
        raise ProbeError(
            source,
            "final norm",
            "no module takes hidden_states[-2] as its input, so the last block is not found",
            "report the architecture to layerwise (a probe in models/probes.py)",
        )
    block_out = blocks[-1][3]  # the outermost call: its hook fires last
    if _close(block_out, last):
        return "no_final_norm", ""
    maps = [c for c in calls if _close(c[2], block_out) and _close(c[3], last)]
    if not maps:
        raise ProbeError(
            source,
            "final norm",
            "something changes the last block's output before last_hidden_state, but no "
            "single module maps the one to the other",
            "report the architecture to layerwise (a probe in models/probes.py)",
        )
    name, module, x, y = maps[0]
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
    if _close(hidden[-1], last):
        return "post_norm", name
    if _close(hidden[-1], block_out):
        return "pre_norm", name
    raise ProbeError(
        source,
        "final norm",
        "hidden_states[-1] is neither the last block's output nor last_hidden_state",
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
        out = _outputs(model, ids, device)
    except (IndexError, RuntimeError, ValueError):
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
    a, b = _outputs(model, ids, device), _outputs(model, changed, device)
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


# ---------------------------------------------------------------- the spec
def discover_spec(origin: Origin, tok: Any, model: nn.Module, device: str, dtype: str) -> ModelSpec:
    """Every fact extraction needs, measured on the loaded tokenizer and model."""
    source = origin.source
    prefix, suffix = special_tokens(tok, source)
    open_id, close_id = boundary_tokens(tok, prefix, suffix, source)
    words = list(tok("the cat sat on the", add_special_tokens=False)["input_ids"])
    probe = [*prefix, *words, *suffix]
    top, norm = final_norm(model, probe, device, source)
    out = _outputs(model, probe, device)
    other = [t for t in tok("mat dog", add_special_tokens=False)["input_ids"] if t != words[-1]]
    causal = is_causal(model, [*prefix, *words], other[0] if other else close_id, device, source)
    window = usable_window(model, tok, words[0], source, device)
    return ModelSpec(
        source=source,
        name=display_name(source),
        model_type=model.config.model_type,
        revision=origin.revision,
        n_layers=len(out.hidden_states) - 1,
        hidden_size=int(out.hidden_states[-1].shape[-1]),
        max_length=window,
        open_id=open_id,
        close_id=close_id,
        pad_id=close_id,
        prefix_ids=tuple(int(t) for t in prefix),
        suffix_ids=tuple(int(t) for t in suffix),
        top_state=top,
        final_norm=norm,
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
