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


def check_device(device: str = "auto", dtype: str = "float32") -> str:
    """The concrete device for ``device``, checked available and able to run ``dtype``.

    Raises :class:`~layerwise.errors.InputError` naming the remedy, before any model is loaded.
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
