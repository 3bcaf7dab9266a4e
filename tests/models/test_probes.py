"""models.probes: the facts found at load time, against plain torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from layerwise.models.spec import LoadedModel


def _earlier_states_ignore_the_last_token(lm: LoadedModel) -> bool:
    """The truth the probe must find, established here with plain torch: run the model on
    ``[CLS]/BOS + a sentence`` and on the same ids with the last token replaced, and compare
    the hidden states of every earlier position at every layer. Also checks the change did
    reach the model (the last position differs), so "equal" cannot come from a no-op."""
    ids = [
        lm.spec.open_id,
        *lm.tokenizer("the cat sat on the mat", add_special_tokens=False)["input_ids"],
    ]
    other = lm.tokenizer(" dog", add_special_tokens=False)["input_ids"][-1]
    assert other != ids[-1]
    with torch.inference_mode():
        a = lm.model(input_ids=torch.tensor([ids]), output_hidden_states=True).hidden_states
        b = lm.model(
            input_ids=torch.tensor([[*ids[:-1], other]]), output_hidden_states=True
        ).hidden_states
    assert (a[-1][0, -1] - b[-1][0, -1]).abs().max() > 1e-3
    earlier = max(float((x[0, :-1] - y[0, :-1]).abs().max()) for x, y in zip(a, b, strict=True))
    if earlier < 1e-6:
        return True
    assert earlier > 1e-3, f"neither equal nor clearly different: {earlier}"
    return False


def test_causality_is_found_by_probe(tiny_gpt2, tiny_clip, tiny_bert):
    """The spec's ``causal`` (found by the probe at load time) against the truth found
    here: GPT-2 and CLIP's text encoder (causal attention mask) are causal, BERT is not.
    A probe that always said "causal" would fail on BERT (and cut BERT's inputs)."""
    truth = {
        lm.spec.source: _earlier_states_ignore_the_last_token(lm)
        for lm in (tiny_gpt2, tiny_clip, tiny_bert)
    }
    assert truth == {"tiny:gpt2": True, "tiny:clip": True, "tiny:bert": False}
    assert tiny_gpt2.spec.causal is True
    assert tiny_clip.spec.causal is True
    assert tiny_bert.spec.causal is False


# ------------------------------------------- off the standard transformer (issue 24)
def _plain(model, batch, mask=None):
    with torch.inference_mode():
        kwargs = {} if mask is None else {"attention_mask": torch.tensor(mask)}
        return model(input_ids=torch.tensor(batch), output_hidden_states=True, **kwargs)


def test_fnet_depends_on_padding_and_is_batched_by_equal_lengths(arch_folder, tmp_path):
    """FNet mixes every position by a Fourier transform and takes no attention mask: the
    same text alone and right-padded in a batch gets different states (computed here with
    plain calls). The probe finds it (``batching="equal length"``) and extraction of texts
    of mixed lengths then equals one-at-a-time passes; batched with padding as before, the
    states are wrong by more than 1e-3."""
    from dataclasses import replace

    from layerwise.extract import extract
    from layerwise.extract.requests import sentence_requests
    from layerwise.models import load_model
    from layerwise.models.spec import LoadedModel

    folder = arch_folder(
        tmp_path / "fnet",
        "FNetConfig",
        "FNetModel",
        hidden_size=32,
        num_hidden_layers=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    lm = load_model(str(folder), device="cpu")
    a, b = [3, 4, 5], [3, 4, 5, 6, 7, 8, 9]
    alone = _plain(lm.model, [a]).hidden_states[-1][0]
    padded = _plain(lm.model, [a + [0] * 4, b], [[1, 1, 1, 0, 0, 0, 0], [1] * 7])
    assert float((padded.hidden_states[-1][0, :3] - alone).norm() / alone.norm()) > 1e-2
    assert lm.spec.batching == "equal length"
    assert lm.spec.batching_differences["padding"] > 1e-2
    texts = ["the cat sat", "the cat sat on the mat", "dog", "the dog sat on the house"]
    requests = sentence_requests(lm, texts, "mean")
    together = extract(lm, requests, batch_size=8, progress=False).states
    one = np.concatenate([extract(lm, [r], progress=False).states for r in requests])
    rel = np.linalg.norm(together - one, axis=-1) / np.linalg.norm(one, axis=-1)
    assert rel.max() < 1e-5
    padded_lm = LoadedModel(replace(lm.spec, batching="padded"), lm.tokenizer, lm.model)
    wrong = extract(padded_lm, requests, batch_size=8, progress=False).states
    assert (np.linalg.norm(wrong - one, axis=-1) / np.linalg.norm(one, axis=-1)).max() > 1e-3


def test_mamba_layout_puts_the_embedding_output_at_layer_0(arch_folder, tmp_path):
    """Mamba's hidden_states are the blocks' outputs then the final norm's, with no
    embedding output. Layer 0 is the embedding lookup (computed here from the embedding
    matrix), layer 1 block 1's output, layer 2 the final norm's output (post_norm), and
    the other top convention is block 2's raw output."""
    from layerwise.extract import extract
    from layerwise.extract.requests import sentence_requests
    from layerwise.models import load_model

    folder = arch_folder(
        tmp_path / "mamba",
        "MambaConfig",
        "MambaModel",
        hidden_size=32,
        num_hidden_layers=2,
        state_size=4,
        expand=2,
        conv_kernel=4,
    )
    lm = load_model(str(folder), device="cpu")
    spec = lm.spec
    assert (spec.n_layers, spec.top_state, spec.final_norm) == (2, "post_norm", "norm_f")
    ids = lm.tokens("the cat sat on the mat")
    (request,) = sentence_requests(lm, ["the cat sat on the mat"], "mean")
    got = extract(lm, [request], progress=False)
    out = _plain(lm.model, [ids])
    table = lm.model.get_input_embeddings().weight.detach()
    want = [
        table[ids].mean(0),  # the embedding output
        out.hidden_states[0][0].mean(0),  # block 1
        out.last_hidden_state[0].mean(0),  # after the final norm
    ]
    np.testing.assert_allclose(got.states[0], torch.stack(want).numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        got.top_alt[0], out.hidden_states[1][0].mean(0).numpy(), rtol=1e-5, atol=1e-6
    )


def test_funnel_is_refused_naming_the_layout(arch_folder, tmp_path):
    """Funnel pools the sequence between blocks (hidden_states of other lengths): refused
    at load with a ProbeError naming the fact, not an IndexError in extraction."""
    from layerwise.errors import ProbeError
    from layerwise.models import load_model

    folder = arch_folder(
        tmp_path / "funnel",
        "FunnelConfig",
        "FunnelModel",
        d_model=32,
        n_head=2,
        d_head=16,
        d_inner=64,
        block_sizes=[1, 1],
        num_decoder_layers=1,
    )
    with pytest.raises(ProbeError) as err:
        load_model(str(folder), device="cpu")
    assert err.value.fact == "hidden-state layout"
    assert "pools or downsamples the sequence" in str(err.value) and "Remedy:" in str(err.value)


class _SomeLengthsOnly(torch.nn.Module):
    """Runs only inputs whose length is a multiple of 4 (as chunked attention does)."""

    def forward(self, input_ids, output_hidden_states=True, attention_mask=None):
        if input_ids.shape[1] % 4:
            raise RuntimeError(f"sequence length {input_ids.shape[1]} is not a multiple of 4")
        return None


def test_a_model_that_runs_only_some_lengths_is_refused_with_a_probe_error():
    """A forward pass that fails inside a probe is the package's ProbeError naming the
    fact, the lengths that fail and the model's own message, never a raw RuntimeError."""
    from layerwise.errors import ProbeError
    from layerwise.models import probes

    with pytest.raises(ProbeError) as err:
        probes.input_lengths(_SomeLengthsOnly(), 3, 64, "cpu", "some/model")
    assert err.value.fact == "input lengths" and err.value.model == "some/model"
    assert "[1, 2, 3, 5, 6, 7, 9]" in str(err.value) and "not a multiple of 4" in str(err.value)
