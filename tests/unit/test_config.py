"""pipeline.config: a run's configuration refuses bad sizes and pins before any work."""

from __future__ import annotations

import pytest

import layerwise.pipeline.config as pipeline_config
from layerwise.errors import InputError
from layerwise.pipeline.config import RunConfig


@pytest.mark.parametrize("field", ["n_cwe", "n_resamples", "batch_size"])
def test_a_zero_size_is_refused_never_replaced_by_the_scales_default(field, tmp_path):
    """``RunConfig(n_cwe=0)`` used to become the scale's 10,000 silently (``0 or default``);
    a size that could mean "nothing" is an InputError naming the field."""

    cfg = RunConfig(profile="tiny", cache_dir=str(tmp_path), **{field: 0})
    assert getattr(cfg, field) == 0
    with pytest.raises(InputError, match=f"{field} must be a positive integer, got 0"):
        cfg.validate(outputs=False)


def test_bad_revision_pin_is_an_input_error(monkeypatch):
    monkeypatch.setenv(pipeline_config.REVISIONS_ENV, "causal=abc bogus")
    with pytest.raises(InputError, match="bogus"):
        pipeline_config.RunConfig(profile="tiny")
    monkeypatch.setenv(pipeline_config.REVISIONS_ENV, "causal=abc, contrastive=def")
    assert pipeline_config.RunConfig(profile="tiny").revisions == {
        "causal": "abc",
        "contrastive": "def",
    }


@pytest.mark.parametrize("profile", ["tiny", "offline"])
def test_a_revision_pinned_for_a_role_without_revisions_is_refused(profile, monkeypatch):
    """Used to: ``reproduce --profile tiny --revision causal=abc`` (or LAYERWISE_REVISIONS)
    ran tiny:gpt2 without the revision asked for: a pin of a source that has none was
    dropped silently."""
    monkeypatch.delenv(pipeline_config.REVISIONS_ENV, raising=False)
    cfg = RunConfig(profile=profile, revisions={"causal": "abc"})
    with pytest.raises(InputError) as err:
        cfg.validate(outputs=False)
    message = str(err.value)
    assert "revision 'abc' is pinned for the causal model" in message
    assert f"profile {profile!r}" in message and "has no revisions" in message


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("0=lots", "'lots' is not a memory size"),
        ("0=70G", "'70G' is not a memory size"),
        ("cpu=-1GB", "'-1GB' is not a memory size"),
        ("gpu0=5GB", "'gpu0' is not a device of a memory limit"),
        ("0=1GB 0=2GB", "device '0' is given twice"),
        ("lots", "write DEVICE=SIZE pairs"),
    ],
)
def test_a_memory_limit_that_is_not_a_size_is_refused_naming_it(text, said):
    """Used to: parse_max_memory checked only the DEVICE=SIZE shape, so ``0=lots`` reached
    accelerate, whose ValueError while the weights were read was reported as "missing,
    truncated or corrupt" weights; the same text in a RunConfig (a notebook's parameters
    cell) or as a dict is refused here too."""
    with pytest.raises(InputError, match=said):
        pipeline_config.parse_max_memory(text)
    with pytest.raises(InputError, match=said):
        RunConfig(profile="tiny", max_memory=text)  # a notebook's parameters cell


def test_a_memory_limit_as_a_dict_is_read_like_the_text():
    cfg = RunConfig(profile="tiny", max_memory={0: "9gib", "cpu": 2**30})
    assert cfg.max_memory == {"0": "9GiB", "cpu": str(2**30)}
    with pytest.raises(InputError, match="'lots' is not a memory size"):
        RunConfig(profile="tiny", max_memory={"cpu": "lots"})
