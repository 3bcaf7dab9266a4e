"""Model facts measured by probe passes at load time, never guessed from a name.

Each probe runs the loaded model on a few tokens: which tokens wrap a text, whether the
last hidden state is before or after the final layer norm, whether the model is causal.
Their results make the :class:`~layerwise.models.spec.ModelSpec`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ModelLoadError
from . import rehearsal
from .sources import Origin
from .spec import ModelSpec, display_name

#: Where the final layer norm lives, tried in order on the loaded (base) model.
FINAL_NORM_NAMES = ("ln_f", "final_layer_norm", "norm", "text_model.final_layer_norm")
#: Packages that carry offline weights: source -> (module, pip name, subfolder, gguf file).


# ---------------------------------------------------------------- spec discovery
def find_final_norm(model: nn.Module) -> nn.Module | None:
    modules = dict(model.named_modules())
    for name in FINAL_NORM_NAMES:
        if name in modules:
            return modules[name]
    return None


def _wrap_tokens(tok: Any) -> tuple[int, int, bool]:
    """(open id, close id, whether the tokenizer adds them itself)."""
    probe = "word"
    bare = tok(probe, add_special_tokens=False)["input_ids"]
    native = tok(probe)["input_ids"]
    n = len(bare)
    if len(native) == n + 2 and native[1 : n + 1] == bare:
        return native[0], native[-1], True
    vocab = tok.get_vocab()
    if "<|endoftext|>" in vocab:
        boundary = vocab["<|endoftext|>"]
        return boundary, boundary, False
    open_id = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    close_id = tok.eos_token_id if tok.eos_token_id is not None else open_id
    if open_id is None:
        raise ModelLoadError("the tokenizer adds no special tokens and has no BOS/EOS token")
    return open_id, close_id, False


def _top_state(model: nn.Module, norm: nn.Module | None, ids: list[int], device: str) -> str:
    """Is the last hidden state before or after the final norm? Found by one probe pass."""
    if norm is None:
        return "no_final_norm"
    seen: dict[str, torch.Tensor] = {}
    handle = norm.register_forward_hook(lambda m, i, o: seen.update(pre=i[0], post=o))
    try:
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([ids], device=device), output_hidden_states=True)
    finally:
        handle.remove()
    last = out.hidden_states[-1]
    if "post" not in seen or seen["post"].shape != last.shape:
        return "no_final_norm"
    if torch.allclose(last, seen["post"]):
        return "post_norm"
    if torch.allclose(last, seen["pre"]):
        return "pre_norm"
    return "no_final_norm"


def _is_causal(model: nn.Module, ids: list[int], other: int, device: str) -> bool:
    """True when changing the last token leaves every earlier state unchanged (any layer)."""
    changed = [*ids[:-1], other]
    with torch.inference_mode():
        a = model(input_ids=torch.tensor([ids], device=device), output_hidden_states=True)
        b = model(input_ids=torch.tensor([changed], device=device), output_hidden_states=True)
    earlier_same = all(
        torch.allclose(x[:, :-1].float(), y[:, :-1].float(), rtol=1e-4, atol=1e-5)
        for x, y in zip(a.hidden_states, b.hidden_states, strict=True)
    )
    last_differs = not torch.allclose(a.hidden_states[-1][:, -1], b.hidden_states[-1][:, -1])
    return earlier_same and last_differs


def discover_spec(origin: Origin, tok: Any, model: nn.Module, device: str, dtype: str) -> ModelSpec:
    config = model.config
    open_id, close_id, native = _wrap_tokens(tok)
    norm = find_final_norm(model)
    probe = tok("word", add_special_tokens=False)["input_ids"]
    top = _top_state(model, norm, [open_id, *probe, close_id], device)
    words = tok("the cat sat on the", add_special_tokens=False)["input_ids"]
    other = tok(" mat", add_special_tokens=False)["input_ids"][-1]
    causal = _is_causal(
        model, [open_id, *words, other if other != words[-1] else close_id], words[-1], device
    )
    return ModelSpec(
        source=origin.source,
        name=display_name(origin.source),
        model_type=config.model_type,
        revision=origin.revision,
        n_layers=int(config.num_hidden_layers),
        hidden_size=int(config.hidden_size),
        max_length=int(getattr(config, "max_position_embeddings", None) or config.n_positions),
        open_id=int(open_id),
        close_id=int(close_id),
        pad_id=int(close_id),
        native_wrap=native,
        top_state=top,
        device=device,
        dtype=dtype,
        causal=causal,
        fingerprint=origin.fingerprint,
        # {"rehearsal": True} on rehearsal weights (random, the paper's architectures)
        extra={"rehearsal": True}
        if origin.folder is not None and rehearsal.is_rehearsal(origin.folder)
        else {},
    )
