"""stats.isotropy against the authors' IsoScore package, which imports torch (so this test
is in the models tier, not tests/unit)."""

from __future__ import annotations

import numpy as np
import pytest

from layerwise.stats import isotropy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_isoscore_matches_the_reference_package(seed):
    """The authors' PyPI package (IsoScore 2.0.1, a test-only dependency) as the reference."""
    from IsoScore.IsoScore import IsoScore as reference

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, 12)) * rng.uniform(0.1, 3.0, size=12) @ rng.normal(size=(12, 12))
    # the package subtracts a float32 vector of ones: agreement to float32 precision
    assert isotropy.isoscore(x) == pytest.approx(float(reference(x)), abs=1e-6)
