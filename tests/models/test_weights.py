"""models.weights: reading weights quietly, and a failure named by its real cause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import load_cpu, one_line

from layerwise.errors import ModelLoadError, ProbeError


def _set_config(folder: Path, **fields) -> None:
    path = folder / "config.json"
    path.write_text(json.dumps(json.loads(path.read_text()) | fields))


def test_tqdm_disable_silences_a_librarys_notebook_bar(monkeypatch):
    import types

    from tqdm.notebook import tqdm as notebook_tqdm

    from layerwise.models.weights import _honouring_tqdm_disable

    made = []
    library = types.SimpleNamespace(tqdm=lambda *a, **k: made.append(k) or notebook_tqdm(*a, **k))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    with _honouring_tqdm_disable(library):
        assert list(library.tqdm(range(3), desc="x")) == [0, 1, 2]
    assert made == [{"desc": "x", "disable": True}]
    original = library.tqdm
    monkeypatch.setenv("TQDM_DISABLE", "")
    with _honouring_tqdm_disable(library):
        assert library.tqdm is original  # bars stay on for a reader in JupyterLab


@pytest.mark.parametrize(
    ("arch", "field"),
    [
        (("GPT2Config", "GPT2Model", {"n_embd": 32, "n_layer": 1, "n_head": 2}), "n_positions"),
        (
            (
                "BertConfig",
                "BertModel",
                {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2},
            ),
            "max_position_embeddings",
        ),
    ],
    ids=["gpt2", "bert"],
)
def test_a_config_declaring_more_positions_than_the_weights_have_names_the_field(
    arch_folder, tmp_path, arch, field
):
    """Used to: a config.json whose max_position_embeddings (GPT-2: n_positions) exceeds
    the rows of the weights' position embeddings was reported as weights that are
    "missing, truncated or corrupt", with the remedy of saving them again: transformers
    raises only "ignore_mismatched_sizes is False"."""
    config, model, sizes = arch
    folder = arch_folder(tmp_path / "model", config, model, **sizes, **{field: 64})
    _set_config(folder, **{field: 128})
    with pytest.raises(ModelLoadError) as err:
        load_cpu(folder)
    message = one_line(err.value)
    assert "config declares 128 positions" in message
    assert "the weights have 64 rows" in message and str(folder / "model.safetensors") in message
    assert f"Remedy: fix {field} in config.json to 64" in message
    assert "corrupt" not in message


def test_a_config_that_describes_other_shapes_names_a_tensor_of_each(tiny_folder, tmp_path):
    """Used to: a config.json of another size than the weights (hidden size) was reported
    as a missing, truncated or corrupt weight file."""
    folder = tiny_folder(tmp_path / "model")
    _set_config(folder, n_embd=64)
    with pytest.raises(ModelLoadError) as err:
        load_cpu(folder)
    message = one_line(err.value)
    assert "config.json does not describe its weights: tensor" in message
    assert "is [96] in" in message and "but [192] by the config" in message
    assert "corrupt" not in message


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_named_as_such_not_blamed_on_the_architecture(
    tiny_folder, tmp_path, value
):
    """Used to: weights holding NaN or infinity (here one tensor of them; all-NaN weights
    alike) loaded, and the first load-time probe failed on the NaN hidden states with a
    ProbeError asking to "report the architecture to layerwise"."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = tiny_folder(tmp_path / "model")
    path = folder / "model.safetensors"
    tensors = load_file(path)
    tensors["h.1.mlp.c_fc.weight"] = torch.full_like(tensors["h.1.mlp.c_fc.weight"], value)
    save_file(tensors, path, metadata={"format": "pt"})
    with pytest.raises(ModelLoadError) as err:
        load_cpu(folder)
    assert not isinstance(err.value, ProbeError)
    message = one_line(err.value)
    assert f"model {str(folder)!r}: its weights hold non-finite values" in message
    assert "tensor 'h.1.mlp.c_fc.weight' has 4,096 of 4,096 (1 of " in message
    assert str(path) in message and "Remedy" in message
