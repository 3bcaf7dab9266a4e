"""models.device: devices are checked before anything is loaded."""

from __future__ import annotations

import pytest
import torch

from layerwise.errors import InputError
from layerwise.models.device import check_device


def test_cuda_without_cuda_is_refused_before_loading(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="no CUDA GPU"):
        check_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        check_device("gpu-please")
