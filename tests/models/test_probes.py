"""models.probes: the facts found at load time, against plain torch."""

from __future__ import annotations

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
