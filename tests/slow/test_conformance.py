"""The conformance suite: every family of ``layerwise.platform.conformance.FAMILIES`` (tiny
random models written to a folder as ``save_pretrained`` does, each with a tokenizer that
reproduces its family's special-token template) is loaded with ``load_model`` and checked
against plain transformers calls written here, independently of the probes:

- the spec's facts (special tokens, final norm and the ``hidden_states[-1]`` convention,
  window, causality, pooling);
- the hidden states extraction returns at its read positions, against a plain forward pass;
- the ``native`` sentence setting, against sentence-transformers-style pooling of the
  tokenizer's own encoding.

The three faults of issue 16 are checked by value: final norms found whatever they are
called (Phi, OPT, ModernBERT), special tokens on one side only (Llama's BOS, SigLIP's and
T5's EOS), two at the end (XLNet), a prepended ``</s>`` (OPT).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from layerwise.errors import ModelLoadError, ProbeError
from layerwise.extract import extract
from layerwise.extract.requests import sentence_requests, word_requests
from layerwise.models import load_model
from layerwise.platform import conformance as C

FAMILY_NAMES = [f.name for f in C.FAMILIES if not f.refused]
REFUSED_NAMES = [f.name for f in C.FAMILIES if f.refused]
#: What each family's source code does after its last block (read from transformers):
#: the norm's module name and whether hidden_states[-1] is taken before or after it.
EXPECTED_NORM = {
    "GPT-2": ("post_norm", "ln_f"),
    "GPT-Neo": ("post_norm", "ln_f"),
    "GPT-J": ("post_norm", "ln_f"),
    "GPT-NeoX (Pythia)": ("post_norm", "final_layer_norm"),
    "OPT": ("post_norm", "decoder.final_layer_norm"),
    "BLOOM": ("post_norm", "ln_f"),
    "Llama": ("post_norm", "norm"),
    "Mistral": ("post_norm", "norm"),
    "Qwen2": ("post_norm", "norm"),
    "Gemma": ("post_norm", "norm"),
    "Phi": ("post_norm", "final_layernorm"),
    "Falcon": ("post_norm", "ln_f"),
    "BERT": ("no_final_norm", ""),
    "RoBERTa": ("no_final_norm", ""),
    "DistilBERT": ("no_final_norm", ""),
    "ALBERT": ("no_final_norm", ""),
    "ELECTRA": ("no_final_norm", ""),
    "DeBERTa-v2": ("no_final_norm", ""),
    "MPNet": ("no_final_norm", ""),
    "ModernBERT": ("post_norm", "final_norm"),
    "XLNet": ("no_final_norm", ""),
    "CLIP (text)": ("pre_norm", "final_layer_norm"),
    "SigLIP (text)": ("pre_norm", "final_layer_norm"),
    "T5 (encoder)": ("post_norm", "encoder.final_layer_norm"),
    "FNet": ("no_final_norm", ""),
    "ConvBERT": ("no_final_norm", ""),
    "MobileBERT": ("no_final_norm", ""),
    "Mamba": ("post_norm", "norm_f"),
    "Longformer": ("no_final_norm", ""),
    "SqueezeBERT": ("no_final_norm", ""),
    "Mamba2": ("post_norm", "norm_f"),
    "FalconMamba": ("post_norm", "norm_f"),
    "RWKV": ("post_norm", "ln_out"),
    "Jamba": ("post_norm", "final_layernorm"),
    "Bamba": ("post_norm", "final_layernorm"),
    "Nystromformer": ("no_final_norm", ""),
    "YOSO": ("no_final_norm", ""),
    "BigBird": ("no_final_norm", ""),
    "LongT5 (encoder)": ("post_norm", "encoder.final_layer_norm"),
    "XLM-RoBERTa": ("no_final_norm", ""),
    "RoFormer": ("no_final_norm", ""),
    "ERNIE": ("no_final_norm", ""),
    "MegatronBERT": ("post_norm", "encoder.ln"),
    "DeBERTa": ("no_final_norm", ""),
    "GPT-BigCode": ("post_norm", "ln_f"),
    "MPT": ("post_norm", "norm_f"),
    "CodeGen": ("post_norm", "ln_f"),
    "OpenAI GPT": ("no_final_norm", ""),
    "XGLM": ("post_norm", "layer_norm"),
    "Phi3": ("post_norm", "norm"),
    "Qwen3": ("post_norm", "norm"),
    "OLMo2": ("post_norm", "norm"),
    "Starcoder2": ("post_norm", "norm"),
    "Mixtral": ("post_norm", "norm"),
    "Gemma2": ("post_norm", "norm"),
}
#: Families whose attention is causal (a state never depends on later tokens).
CAUSAL = {f.name for f in C.FAMILIES if "decoder" in f.kind and "encoder" not in f.kind} | {
    "CLIP (text)"
}
#: Families whose hidden_states are not "embedding output, then one entry per block",
#: read from transformers' source: (the first block's module, the entry of each layer in
#: hidden_states, -1 for the first block's input). Mamba lists every block's output, then
#: the final norm's output, and no embedding output.
EXPECTED_LAYOUT = {
    "Mamba": ("layers.0", (-1, 0, 2)),
    "Mamba2": ("layers.0", (-1, 0, 2)),
    "FalconMamba": ("layers.0", (-1, 0, 2)),
    "RWKV": ("blocks.0", (-1, 0, 2)),
}


def test_the_table_covers_at_least_40_families_and_every_template():
    assert len(C.FAMILIES) >= 40
    assert {f.template for f in C.FAMILIES} == set(C.TEMPLATES)
    assert set(EXPECTED_NORM) == set(FAMILY_NAMES)


@pytest.fixture(scope="session")
def conformance_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("conformance")


_LOADED: dict = {}


def _slug(name: str) -> str:
    return re.sub(r"\W+", "_", name)


@pytest.fixture(params=FAMILY_NAMES)
def row(request, conformance_dir):
    """(family, loaded model, plain tokenizer, plain model) of each family, built once."""
    return _load_row(request.param, conformance_dir)


def _load_row(name: str, conformance_dir):
    if name not in _LOADED:
        torch.set_num_threads(1)
        from transformers import AutoTokenizer

        fam = C.family(name)
        folder = C.build_family(fam, conformance_dir / _slug(name))
        lm = load_model(str(folder), device="cpu")
        _LOADED[name] = (fam, lm, AutoTokenizer.from_pretrained(folder), lm.model)
    return _LOADED[name]


def test_the_models_page_is_generated_from_the_suite(conformance_dir):
    """book/models.md is what `python -m layerwise models-page` writes now."""
    from layerwise.files import repository_root
    from layerwise.platform import models_page

    models: dict = {name: _load_row(name, conformance_dir)[1] for name in FAMILY_NAMES}
    for name in REFUSED_NAMES:
        models[name] = _refusal(name, conformance_dir)
    page = (repository_root(__file__) / models_page.PAGE).read_text(encoding="utf-8")
    assert page == models_page.render(models), (
        "book/models.md is stale: run `python -m layerwise models-page` and commit it"
    )


def _refusal(name: str, conformance_dir) -> ProbeError:
    folder = C.build_family(C.family(name), conformance_dir / _slug(name))
    with pytest.raises(ProbeError) as err:
        load_model(str(folder), device="cpu")
    return err.value


@pytest.mark.parametrize("name", REFUSED_NAMES)
def test_refused_families_stop_with_a_probe_error_naming_the_fact(name, conformance_dir):
    """Funnel pools the sequence between blocks: no position has a state in every layer,
    so the load stops with the package's own error naming the fact (not an IndexError
    from extraction, as before)."""
    err = _refusal(name, conformance_dir)
    assert err.fact == C.family(name).refused
    assert "Remedy:" in str(err) and _slug(name) in str(err)


def _plain(model, ids: list[int]):
    with torch.inference_mode():
        return model(input_ids=torch.tensor([ids]), output_hidden_states=True)


def _truth_states(model, name: str, ids: list[int]) -> list:
    """Every layer's states ``[T, d]`` of a plain forward pass, embedding output first:
    ``hidden_states`` as they are, or laid out as :data:`EXPECTED_LAYOUT` says (the first
    block's input caught by a hook written here)."""
    seen: dict = {}
    first, layout = EXPECTED_LAYOUT.get(name, ("", None))
    handle = None
    if first:

        def catch(module, args, kwargs):
            seen.setdefault("x", kwargs.get("hidden_states", args[0] if args else None))

        block = dict(model.named_modules())[first]
        handle = block.register_forward_pre_hook(catch, with_kwargs=True)
    out = _plain(model, ids)
    if handle is not None:
        handle.remove()
    hidden = out.hidden_states
    if layout is None:
        return [h[0] for h in hidden]
    return [seen["x"][0] if k < 0 else hidden[k][0] for k in layout]


def _runs(model, n: int, token: int) -> bool:
    try:
        out = _plain(model, [token] * n)
    except (IndexError, RuntimeError, ValueError):
        return False
    return all(bool(torch.isfinite(h).all()) for h in out.hidden_states)


def test_facts_match_plain_transformers(row):
    fam, lm, tok, model = row
    spec = lm.spec
    # special tokens: the template's tokens, and tok(text) = prefix + bare + suffix
    prefix, suffix = (tuple(tok.convert_tokens_to_ids(list(t))) for t in C.TEMPLATES[fam.template])
    assert (spec.prefix_ids, spec.suffix_ids) == (prefix, suffix)
    for text in C.TEXTS:
        bare = tok(text, add_special_tokens=False)["input_ids"]
        assert tok(text)["input_ids"] == [*prefix, *bare, *suffix]
    # final norm: hook the module the spec names, compare with a plain forward pass
    top, name = EXPECTED_NORM[fam.name]
    assert (spec.top_state, spec.final_norm) == (top, name)
    ids = tok(C.TEXTS[0])["input_ids"]
    seen: dict = {}
    if name:
        module = dict(model.named_modules())[name]
        handle = module.register_forward_hook(lambda m, i, o: seen.update(pre=i[0], post=o))
    out = _plain(model, ids)
    if name:
        handle.remove()
        assert torch.allclose(
            seen["post"].reshape(-1), out.last_hidden_state.reshape(-1), atol=1e-6
        )
        assert not torch.allclose(seen["pre"].reshape(-1), seen["post"].reshape(-1), atol=1e-3)
        expected_last = seen["post"] if top == "post_norm" else seen["pre"]
        assert torch.allclose(
            out.hidden_states[-1].reshape(-1), expected_last.reshape(-1), atol=1e-6
        )
    else:
        assert torch.equal(out.hidden_states[-1], out.last_hidden_state)
    assert (spec.n_layers, spec.hidden_size) == (
        len(_truth_states(model, fam.name, ids)) - 1,
        C.WIDTH,
    )
    first, layout = EXPECTED_LAYOUT.get(fam.name, ("", tuple(range(spec.n_layers + 1))))
    assert (spec.layer_sources, spec.first_block) == (layout, first)
    # window: a forward pass of max_length tokens runs; one more fails, unless the
    # positions extrapolate and the window is what the config or tokenizer declares
    token = ids[len(prefix)]
    assert _runs(model, spec.max_length, token)
    declared = min(
        v
        for v in (
            getattr(model.config, "max_position_embeddings", None),
            getattr(model.config, "n_positions", None),
            tok.model_max_length if tok.model_max_length < 10**7 else None,
        )
        if isinstance(v, int) and v > 0  # XLNet's config says -1: none
    )
    assert not _runs(model, spec.max_length + 1, token) or spec.max_length == declared
    # causality: change the last token, compare the earlier states
    other = tok("dog", add_special_tokens=False)["input_ids"][0]
    a, b = _plain(model, ids[:-1] + [other]), _plain(model, ids[:-1] + [token])
    earlier_same = all(
        torch.allclose(x[:, :-1], y[:, :-1], atol=1e-6)
        for x, y in zip(a.hidden_states, b.hidden_states, strict=True)
    )
    assert spec.causal is earlier_same is (fam.name in CAUSAL)
    assert spec.pooling == fam.pooling


def test_states_at_read_positions_match_a_plain_forward_pass(row):
    fam, lm, tok, model = row
    requests = [
        *word_requests(lm, ["cat", "zebra"], "wrapped"),
        *word_requests(lm, ["zebra"], "eos"),
        *word_requests(lm, ["zebra"], "bare"),
        *(
            r
            for setting in ("eos", "last", "mean", "native")
            for r in sentence_requests(lm, C.TEXTS, setting)
        ),
    ]
    got = extract(lm, requests, batch_size=4, progress=False)
    name = lm.spec.final_norm
    row_i = 0
    for r in requests:
        seen: dict = {}
        handle = None
        if name:
            module = dict(model.named_modules())[name]
            handle = module.register_forward_hook(
                lambda m, i, o, seen=seen: seen.update(pre=i[0], post=o)
            )
        states = _truth_states(model, fam.name, list(r.ids))
        if handle is not None:
            handle.remove()
        for start, stop in r.reads:
            want = np.stack([h[start:stop].mean(0).numpy() for h in states])
            np.testing.assert_allclose(got.states[row_i], want, rtol=1e-4, atol=1e-5)
            if name:
                alt = seen["post" if lm.spec.top_state == "pre_norm" else "pre"]
                alt = alt.reshape(1, -1, lm.spec.hidden_size)  # XLNet is time-major
                np.testing.assert_allclose(
                    got.top_alt[row_i], alt[0, start:stop].mean(0).numpy(), rtol=1e-4, atol=1e-5
                )
            else:
                assert got.top_alt is None
            row_i += 1


def sentence_transformers_pooling(tok, model, texts, mode: str) -> np.ndarray:
    """What sentence-transformers computes: the tokenizer's own encoding, the model's
    ``last_hidden_state`` (token embeddings), then mean over the attention mask, the first
    token or the last real token."""
    out = []
    for text in texts:
        enc = tok(text, return_tensors="pt")
        with torch.inference_mode():
            emb = model(**enc).last_hidden_state[0]
        mask = enc["attention_mask"][0].float()
        if mode == "mean":
            out.append(((emb * mask[:, None]).sum(0) / mask.sum()).numpy())
        elif mode == "cls":
            out.append(emb[0].numpy())
        else:
            out.append(emb[int(mask.sum()) - 1].numpy())
    return np.stack(out)


def test_native_setting_is_the_models_own_sentence_embedding(row):
    fam, lm, tok, model = row
    got = extract(lm, sentence_requests(lm, C.TEXTS, "native"), progress=False)
    # sentence-transformers reads last_hidden_state: after the final norm when there is one
    top = got.top_alt if lm.spec.top_state == "pre_norm" else got.states[:, -1]
    want = sentence_transformers_pooling(tok, model, C.TEXTS, fam.pooling)
    rel = np.linalg.norm(top - want, axis=1) / np.linalg.norm(want, axis=1)
    assert rel.max() < 1e-5


# ---------------------------------------------------------------- the three faults, by value
@pytest.mark.parametrize(
    "name, norm",
    [("Phi", "final_layernorm"), ("OPT", "decoder.final_layer_norm"), ("ModernBERT", "final_norm")],
)
def test_final_norms_are_found_whatever_they_are_called(name, norm, conformance_dir):
    fam = C.family(name)
    folder = C.build_family(fam, conformance_dir / f"fault-{_slug(name)}")
    lm = load_model(str(folder), device="cpu")
    assert (lm.spec.top_state, lm.spec.final_norm) == ("post_norm", norm)
    got = extract(lm, word_requests(lm, ["cat"], "wrapped"), progress=False)
    assert got.top_alt is not None  # the other top-layer convention exists


@pytest.mark.parametrize(
    "name, prefix, suffix",
    [
        ("Llama", ("<s>",), ()),
        ("OPT", ("</s>",), ()),
        ("SigLIP (text)", (), ("</s>",)),
        ("XLNet", (), ("<sep>", "<cls>")),
    ],
)
def test_special_tokens_on_one_side_or_several(name, prefix, suffix, conformance_dir):
    fam = C.family(name)
    folder = C.build_family(fam, conformance_dir / f"tokens-{_slug(name)}")
    lm = load_model(str(folder), device="cpu")
    tokens = lm.tokenizer.convert_ids_to_tokens
    assert (tuple(tokens(list(lm.spec.prefix_ids))), tuple(tokens(list(lm.spec.suffix_ids)))) == (
        prefix,
        suffix,
    )
    (req,) = sentence_requests(lm, ["the cat sat"], "mean")
    n = len(lm.tokens("the cat sat"))
    assert req.reads == ((len(prefix), len(prefix) + n),)  # the sentence's own tokens
    assert len(req.ids) == len(prefix) + n + len(suffix)  # in its native input


# ---------------------------------------------------------------- refusals
def test_a_model_without_a_declared_window_is_refused_naming_the_fact(tmp_path):
    fam = C.family("XLNet")
    tok = C.build_tokenizer(fam.template)  # no model_max_length, and XLNet declares none
    C.build_model(fam, tok).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    with pytest.raises(ProbeError, match="context window") as err:
        load_model(str(tmp_path), device="cpu")
    assert err.value.fact == "context window" and str(tmp_path) in str(err.value)


def test_a_vision_model_is_refused_with_the_reason(tmp_path):
    from transformers import ViTConfig, ViTModel

    ViTModel(
        ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    ).save_pretrained(tmp_path)
    C.build_tokenizer("cls/sep").save_pretrained(tmp_path)
    with pytest.raises(ModelLoadError, match="not a text model"):
        load_model(str(tmp_path), device="cpu")


#: Families whose states depend on the batch's padding, read from transformers' source:
#: FNet mixes positions by a Fourier transform and takes no attention mask, ConvBERT's span
#: convolution, MobileBERT's trigram embeddings and Nystromformer's convolution over the
#: values reach the padded positions, YOSO's hashed attention (its CPU path) counts them.
PADDING_DEPENDENT = {"FNet", "ConvBERT", "MobileBERT", "Nystromformer", "YOSO"}


def test_batching_follows_the_padding_dependence_found_with_plain_calls(row):
    """The spec's ``batching`` against the truth established here: a text alone against
    the same text right-padded (attention mask 0) beside a longer one, every layer. A
    model whose states move is batched by equal lengths; and the batched extraction of
    texts of mixed lengths equals one-at-a-time passes to 1e-5 relative either way."""
    fam, lm, tok, model = row
    a = tok(C.TEXTS[0])["input_ids"]
    b = tok(C.TEXTS[2] + " " + C.TEXTS[1])["input_ids"]
    pad = lm.spec.pad_id
    with torch.inference_mode():
        alone = model(input_ids=torch.tensor([a]), output_hidden_states=True).hidden_states
        batch = torch.tensor([a + [pad] * (len(b) - len(a)), b])
        mask = torch.tensor([[1] * len(a) + [0] * (len(b) - len(a)), [1] * len(b)])
        padded = model(input_ids=batch, attention_mask=mask, output_hidden_states=True)
    moved = max(
        float(((x[0] - y[0, : len(a)]).norm(dim=-1) / x[0].norm(dim=-1)).max())
        for x, y in zip(alone, padded.hidden_states, strict=True)
    )
    depends = moved > 1e-4
    assert depends is (fam.name in PADDING_DEPENDENT)
    assert lm.spec.batching == ("equal length" if depends else "padded")
    requests = sentence_requests(lm, [*C.TEXTS, C.TEXTS[2] + " " + C.TEXTS[1]], "mean")
    together = extract(lm, requests, batch_size=8, progress=False).states
    one = np.concatenate([extract(lm, [r], progress=False).states for r in requests])
    rel = np.linalg.norm(together - one, axis=-1) / np.linalg.norm(one, axis=-1)
    assert rel.max() < 1e-5
