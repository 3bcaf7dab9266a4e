"""Devices and dtypes: the concrete device for ``"auto"``, checked before any model loads."""

from __future__ import annotations

import torch

from ..errors import InputError


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
#: What ``--dtype`` accepts: a dtype of :data:`DTYPES`, or ``auto`` (:func:`resolve_dtype`).
DTYPE_CHOICES = ("auto", *DTYPES)
#: ``device_map`` values :func:`check_device_map` accepts (accelerate's strategies).
DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")


def resolve_dtype(dtype: str, device: str, bf16_supported: bool | None = None) -> str:
    """The concrete dtype for ``dtype`` on the concrete ``device``.

    ``auto`` is ``bfloat16`` on a CUDA GPU that runs it (compute capability 8.0 or more:
    A100, H100, H200, RTX 30xx and later; ``bf16_supported`` overrides the check, for
    tests), ``float32`` on an older GPU, on MPS and on the CPU (where bfloat16 matmuls are
    slow and the paper's numbers were float32). Any other value is returned as given after
    a check. Raises :class:`~layerwise.errors.InputError` for an unknown dtype.
    """
    if dtype == "auto":
        if torch.device(device).type != "cuda":
            return "float32"
        if bf16_supported is None:
            bf16_supported = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        return "bfloat16" if bf16_supported else "float32"
    if dtype not in DTYPES:
        raise InputError(f"unknown dtype {dtype!r}; choose one of {list(DTYPE_CHOICES)}")
    return dtype


def check_device_map(device_map: str | dict | None, max_memory: dict | None = None) -> None:
    """InputError before any model loads when ``device_map`` is neither None, one of
    :data:`DEVICE_MAPS` nor a dict (module name -> device), or ``max_memory`` is given
    without a device map, or accelerate (which places the modules) is not installed."""
    if device_map is None:
        if max_memory:
            raise InputError("max_memory needs a device_map (e.g. device_map='auto')")
        return
    if not isinstance(device_map, dict) and device_map not in DEVICE_MAPS:
        raise InputError(
            f"unknown device_map {device_map!r}; use one of {list(DEVICE_MAPS)} or a dict "
            "of module name -> device"
        )
    try:
        import accelerate  # noqa: F401
    except ImportError as err:
        raise InputError(
            "device_map needs the accelerate package. Remedy: pip install accelerate "
            "(or pip install 'layerwise[cluster]')"
        ) from err


def check_device(device: str = "auto", dtype: str = "float32") -> str:
    """The concrete device for ``device``, checked available and able to run ``dtype``
    (``auto``: the dtype :func:`~layerwise.models.device.resolve_dtype` picks there).

    Raises :class:`~layerwise.errors.InputError` naming the remedy, before any model is loaded.
    """
    if dtype not in DTYPE_CHOICES:
        raise InputError(f"unknown dtype {dtype!r}; choose one of {list(DTYPE_CHOICES)}")
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
    dtype = resolve_dtype(dtype, chosen)
    try:
        probe = torch.ones((2, 2), dtype=DTYPES[dtype], device=dev)
        (probe @ probe).sum().item()
    except (RuntimeError, TypeError) as err:
        raise InputError(
            f"dtype {dtype} does not run on {chosen} here ({err}); use --dtype float32"
        ) from err
    return chosen
