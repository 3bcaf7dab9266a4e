"""layerwise.errors: the package's errors."""

from __future__ import annotations

from layerwise.errors import CacheError, InputError, LayerwiseError, ModelLoadError, OutputError


def test_errors_share_one_base_class():
    for cls in (CacheError, OutputError, ModelLoadError, InputError):
        assert issubclass(cls, LayerwiseError)
