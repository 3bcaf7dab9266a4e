"""The conformance table: tiny random models of many Hugging Face architecture families.

Each :class:`Family` names a transformers config class and the keyword arguments of a
tiny variant (2 layers of width 32), the model class to build, the special-token template
of the family's real tokenizer and the sentence pooling a sentence-transformers model of
that family would use. :func:`build_family` writes such a model into a folder the way a
user's ``save_pretrained`` does (weights, config, a tokenizer built with the
``tokenizers`` library reproducing the template, and the sentence-transformers pooling
files), so :func:`~layerwise.models.loading.load_model` meets it exactly as it meets a
downloaded model. ``tests/slow/test_conformance.py`` checks every row against plain
transformers calls, and ``python -m layerwise models-page`` writes the book's *Which
models work* page (``book/models.md``) from the same table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

#: Seed of every conformance model's random weights.
SEED = 0
#: Width, depth, heads and window of the tiny variants.
WIDTH = 32
LAYERS = 2
HEADS = 2
WINDOW = 64

#: Special-token templates: the tokens a family's tokenizer adds around a text, by name.
#: Each is (prefix, suffix) as token strings.
TEMPLATES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "none": ((), ()),
    "bos": (("<s>",), ()),
    "eos": ((), ("</s>",)),
    "bos+eos": (("<s>",), ("</s>",)),
    "cls/sep": (("[CLS]",), ("[SEP]",)),
    "eos-as-bos": (("</s>",), ()),
    "two at the end": ((), ("<sep>", "<cls>")),
}
#: Special tokens of each template's vocabulary, and which role each plays.
TEMPLATE_ROLES: dict[str, dict[str, str]] = {
    "none": {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<unk>"},
    "bos": {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
    "eos": {"eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"},
    # RoBERTa's order: <s> 0, <pad> 1, </s> 2, <unk> 3 (its position ids start at pad + 1)
    "bos+eos": {
        "bos_token": "<s>",
        "pad_token": "<pad>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
    },
    "cls/sep": {
        "cls_token": "[CLS]",
        "sep_token": "[SEP]",
        "unk_token": "[UNK]",
        "pad_token": "[PAD]",
        "mask_token": "[MASK]",
    },
    "eos-as-bos": {
        "bos_token": "</s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
    },
    "two at the end": {
        "sep_token": "<sep>",
        "cls_token": "<cls>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "eos_token": "</s>",
        "bos_token": "<s>",
    },
}
#: Words of the tiny vocabulary (whole words; anything else is spelled in pieces).
WORDS = (
    "the a cat dog sat on mat and bird sang in tree sun is warm today we read book "
    "of old river runs to sea children play near house"
).split()
#: Sentences the conformance tests read.
TEXTS = (
    "the cat sat on the mat",
    "a bird sang in the old tree",
    "children play near the river today",
    "we read a book of zebras",
)


@dataclass(frozen=True)
class Family:
    """One row of the conformance table.

    ``config``/``model``: transformers class names; ``kwargs``: the tiny config's
    arguments (sizes named as the family's config names them); ``template``: a key of
    :data:`TEMPLATES`; ``pooling``: ``"mean"``, ``"cls"`` or ``"last"`` (the
    sentence-transformers pooling written beside the model); ``kind``: what the family
    is (decoder, encoder, contrastive text, encoder of an encoder-decoder).
    """

    name: str
    kind: str
    config: str
    model: str
    template: str
    pooling: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: the tokenizer's declared window (``model_max_length``), for families whose config
    #: declares none (relative or ALiBi positions)
    tokenizer_window: int | None = None
    #: the fact whose ProbeError refuses the family at load (``""``: it works)
    refused: str = ""


def _dec(**kw: Any) -> dict[str, Any]:
    """Llama-style sizes."""
    return {
        "hidden_size": WIDTH,
        "intermediate_size": 2 * WIDTH,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "max_position_embeddings": WINDOW,
        **kw,
    }


def _enc(**kw: Any) -> dict[str, Any]:
    """BERT-style sizes."""
    return _dec(**kw)


FAMILIES: tuple[Family, ...] = (
    # decoder-only
    Family(
        "GPT-2",
        "decoder",
        "GPT2Config",
        "GPT2Model",
        "none",
        "last",
        {"n_embd": WIDTH, "n_layer": LAYERS, "n_head": HEADS, "n_positions": WINDOW},
    ),
    Family(
        "GPT-Neo",
        "decoder",
        "GPTNeoConfig",
        "GPTNeoModel",
        "none",
        "mean",
        {
            "hidden_size": WIDTH,
            "num_layers": LAYERS,
            "num_heads": HEADS,
            "attention_types": [[["global", "local"], 1]],
            "max_position_embeddings": WINDOW,
            "window_size": 16,
        },
    ),
    Family(
        "GPT-J",
        "decoder",
        "GPTJConfig",
        "GPTJModel",
        "none",
        "last",
        {
            "n_embd": WIDTH,
            "n_layer": LAYERS,
            "n_head": HEADS,
            "rotary_dim": 8,
            "n_positions": WINDOW,
        },
    ),
    Family(
        "GPT-NeoX (Pythia)",
        "decoder",
        "GPTNeoXConfig",
        "GPTNeoXModel",
        "none",
        "mean",
        _dec(),
    ),
    Family(
        "OPT",
        "decoder",
        "OPTConfig",
        "OPTModel",
        "eos-as-bos",
        "last",
        {
            "hidden_size": WIDTH,
            "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS,
            "ffn_dim": 2 * WIDTH,
            "max_position_embeddings": WINDOW,
            "word_embed_proj_dim": WIDTH,
        },
    ),
    Family(
        "BLOOM",
        "decoder",
        "BloomConfig",
        "BloomModel",
        "none",
        "mean",
        {"hidden_size": WIDTH, "n_layer": LAYERS, "n_head": HEADS},
        tokenizer_window=WINDOW,
    ),
    Family("Llama", "decoder", "LlamaConfig", "LlamaModel", "bos", "mean", _dec()),
    Family(
        "Mistral",
        "decoder",
        "MistralConfig",
        "MistralModel",
        "bos",
        "last",
        _dec(num_key_value_heads=1, head_dim=WIDTH // HEADS),
    ),
    Family(
        "Qwen2", "decoder", "Qwen2Config", "Qwen2Model", "none", "last", _dec(num_key_value_heads=1)
    ),
    Family(
        "Gemma",
        "decoder",
        "GemmaConfig",
        "GemmaModel",
        "bos",
        "mean",
        _dec(head_dim=WIDTH // HEADS, num_key_value_heads=1),
    ),
    Family("Phi", "decoder", "PhiConfig", "PhiModel", "none", "mean", _dec()),
    Family(
        "Falcon",
        "decoder",
        "FalconConfig",
        "FalconModel",
        "none",
        "last",
        {
            "hidden_size": WIDTH,
            "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS,
            "max_position_embeddings": WINDOW,
        },
    ),
    # encoders
    Family("BERT", "encoder", "BertConfig", "BertModel", "cls/sep", "cls", _enc()),
    Family("RoBERTa", "encoder", "RobertaConfig", "RobertaModel", "bos+eos", "mean", _enc()),
    Family(
        "DistilBERT",
        "encoder",
        "DistilBertConfig",
        "DistilBertModel",
        "cls/sep",
        "mean",
        {
            "dim": WIDTH,
            "hidden_dim": 2 * WIDTH,
            "n_layers": LAYERS,
            "n_heads": HEADS,
            "max_position_embeddings": WINDOW,
        },
    ),
    Family(
        "ALBERT",
        "encoder",
        "AlbertConfig",
        "AlbertModel",
        "cls/sep",
        "cls",
        _enc(embedding_size=16),
    ),
    Family(
        "ELECTRA",
        "encoder",
        "ElectraConfig",
        "ElectraModel",
        "cls/sep",
        "mean",
        _enc(embedding_size=16),
    ),
    Family("DeBERTa-v2", "encoder", "DebertaV2Config", "DebertaV2Model", "cls/sep", "mean", _enc()),
    Family("MPNet", "encoder", "MPNetConfig", "MPNetModel", "bos+eos", "mean", _enc()),
    Family(
        "ModernBERT",
        "encoder",
        "ModernBertConfig",
        "ModernBertModel",
        "cls/sep",
        "mean",
        _enc(global_attn_every_n_layers=2, local_attention=16),
    ),
    Family(
        "XLNet",
        "encoder",
        "XLNetConfig",
        "XLNetModel",
        "two at the end",
        "last",
        {"d_model": WIDTH, "n_layer": LAYERS, "n_head": HEADS, "d_inner": 2 * WIDTH},
        tokenizer_window=WINDOW,
    ),
    # states that depend on the batch's padding: batched by equal lengths
    Family(
        "FNet",
        "encoder (Fourier mixing, no attention mask)",
        "FNetConfig",
        "FNetModel",
        "cls/sep",
        "mean",
        {
            "hidden_size": WIDTH,
            "num_hidden_layers": LAYERS,
            "intermediate_size": 2 * WIDTH,
            "max_position_embeddings": WINDOW,
        },
    ),
    Family(
        "ConvBERT",
        "encoder (convolution over the sequence)",
        "ConvBertConfig",
        "ConvBertModel",
        "cls/sep",
        "mean",
        _enc(embedding_size=WIDTH, conv_kernel_size=3, head_ratio=1),
    ),
    Family(
        "MobileBERT",
        "encoder (trigram input embeddings)",
        "MobileBertConfig",
        "MobileBertModel",
        "cls/sep",
        "mean",
        _enc(
            embedding_size=16,
            intra_bottleneck_size=16,
            true_hidden_size=16,
            num_feedforward_networks=1,
        ),
    ),
    # state-space models: hidden_states without the embedding output, final norm appended
    Family(
        "Mamba",
        "state-space decoder",
        "MambaConfig",
        "MambaModel",
        "none",
        "last",
        {
            "hidden_size": WIDTH,
            "num_hidden_layers": LAYERS,
            "state_size": 4,
            "expand": 2,
            "conv_kernel": 4,
        },
        tokenizer_window=WINDOW,
    ),
    # internal padding to a multiple of the attention window
    Family(
        "Longformer",
        "encoder (sliding-window attention, internal padding)",
        "LongformerConfig",
        "LongformerModel",
        "bos+eos",
        "mean",
        _enc(attention_window=8, max_position_embeddings=WINDOW + 2),
    ),
    # the sequence pooled between layers: refused
    Family(
        "Funnel",
        "encoder (pools the sequence between blocks)",
        "FunnelConfig",
        "FunnelModel",
        "cls/sep",
        "cls",
        {
            "d_model": WIDTH,
            "n_head": HEADS,
            "d_head": WIDTH // HEADS,
            "d_inner": 2 * WIDTH,
            "block_sizes": [1, 1],
            "num_decoder_layers": 1,
        },
        tokenizer_window=WINDOW,
        refused="hidden-state layout",
    ),
    # found by the scouting of issue 24
    Family(
        "SqueezeBERT",
        "encoder (grouped convolutions; blocks called via .forward)",
        "SqueezeBertConfig",
        "SqueezeBertModel",
        "cls/sep",
        "mean",
        _enc(embedding_size=WIDTH),
    ),
    Family(
        "Mamba2",
        "state-space decoder",
        "Mamba2Config",
        "Mamba2Model",
        "none",
        "last",
        {
            "hidden_size": WIDTH,
            "num_hidden_layers": LAYERS,
            "num_heads": 4,
            "head_dim": 16,
            "state_size": 8,
            "n_groups": 1,
            "chunk_size": 16,
        },
        tokenizer_window=WINDOW,
    ),
    Family(
        "FalconMamba",
        "state-space decoder",
        "FalconMambaConfig",
        "FalconMambaModel",
        "none",
        "last",
        {"hidden_size": WIDTH, "num_hidden_layers": LAYERS, "state_size": 8},
        tokenizer_window=WINDOW,
    ),
    Family(
        "RWKV",
        "recurrent decoder",
        "RwkvConfig",
        "RwkvModel",
        "none",
        "last",
        {
            "hidden_size": WIDTH,
            "num_hidden_layers": LAYERS,
            "attention_hidden_size": WIDTH,
            "intermediate_size": 2 * WIDTH,
            "context_length": WINDOW,
        },
    ),
    Family(
        "Jamba",
        "hybrid decoder (Mamba + attention, MoE)",
        "JambaConfig",
        "JambaModel",
        "bos",
        "last",
        _dec(
            num_key_value_heads=1,
            num_experts=2,
            num_experts_per_tok=1,
            expert_layer_period=2,
            expert_layer_offset=1,
            attn_layer_period=2,
            attn_layer_offset=1,
            mamba_d_state=8,
            mamba_dt_rank=4,
            use_mamba_kernels=False,
        ),
    ),
    Family(
        "Bamba",
        "hybrid decoder (Mamba2 + attention)",
        "BambaConfig",
        "BambaModel",
        "bos",
        "last",
        _dec(
            num_key_value_heads=1,
            attn_layer_indices=[1],
            mamba_n_heads=4,
            mamba_d_head=16,
            mamba_d_state=8,
            mamba_chunk_size=16,
        ),
    ),
    Family(
        "Reformer",
        "decoder (reversible layers, chunked attention, internal padding)",
        "ReformerConfig",
        "ReformerModel",
        "none",
        "mean",
        {
            "hidden_size": WIDTH,
            "num_attention_heads": HEADS,
            "attention_head_size": WIDTH // HEADS,
            "attn_layers": ["local", "lsh"],
            "feed_forward_size": 2 * WIDTH,
            "axial_pos_shape": [8, 8],
            "axial_pos_embds_dim": [16, 16],
            "max_position_embeddings": WINDOW,
            "local_attn_chunk_length": 8,
            "lsh_attn_chunk_length": 8,
            "num_buckets": 2,
            "is_decoder": True,
        },
        refused="final norm",
    ),
    Family(
        "Nystromformer",
        "encoder (Nystrom attention, convolution over values)",
        "NystromformerConfig",
        "NystromformerModel",
        "cls/sep",
        "mean",
        _enc(),
    ),
    Family(
        "YOSO",
        "encoder (LSH attention, expectation path)",
        "YosoConfig",
        "YosoModel",
        "cls/sep",
        "mean",
        _enc(),
    ),
    Family(
        "BigBird",
        "encoder (block-sparse attention)",
        "BigBirdConfig",
        "BigBirdModel",
        "cls/sep",
        "mean",
        _enc(block_size=4, num_random_blocks=1),
    ),
    Family(
        "LongT5 (encoder)",
        "encoder of encoder-decoder (local attention)",
        "LongT5Config",
        "LongT5EncoderModel",
        "eos",
        "mean",
        {
            "d_model": WIDTH,
            "d_kv": WIDTH // HEADS,
            "d_ff": 2 * WIDTH,
            "num_layers": LAYERS,
            "num_heads": HEADS,
            "local_radius": 4,
            "is_encoder_decoder": False,
        },
        tokenizer_window=WINDOW,
    ),
    Family(
        "XLM-RoBERTa", "encoder", "XLMRobertaConfig", "XLMRobertaModel", "bos+eos", "mean", _enc()
    ),
    Family("RoFormer", "encoder", "RoFormerConfig", "RoFormerModel", "cls/sep", "mean", _enc()),
    Family("ERNIE", "encoder", "ErnieConfig", "ErnieModel", "cls/sep", "cls", _enc()),
    Family(
        "MegatronBERT",
        "encoder",
        "MegatronBertConfig",
        "MegatronBertModel",
        "cls/sep",
        "cls",
        _enc(),
    ),
    Family("DeBERTa", "encoder", "DebertaConfig", "DebertaModel", "cls/sep", "mean", _enc()),
    Family(
        "GPT-BigCode",
        "decoder (multi-query attention)",
        "GPTBigCodeConfig",
        "GPTBigCodeModel",
        "none",
        "last",
        {
            "n_embd": WIDTH,
            "n_layer": LAYERS,
            "n_head": HEADS,
            "n_positions": WINDOW,
            "multi_query": True,
        },
    ),
    Family(
        "MPT",
        "decoder (ALiBi)",
        "MptConfig",
        "MptModel",
        "none",
        "mean",
        {
            "d_model": WIDTH,
            "n_layers": LAYERS,
            "n_heads": HEADS,
            "expansion_ratio": 2,
            "max_seq_len": WINDOW,
        },
        tokenizer_window=WINDOW,
    ),
    Family(
        "CodeGen",
        "decoder",
        "CodeGenConfig",
        "CodeGenModel",
        "none",
        "last",
        {"n_embd": WIDTH, "n_layer": LAYERS, "n_head": 4, "rotary_dim": 4, "n_positions": WINDOW},
    ),
    Family(
        "OpenAI GPT",
        "decoder",
        "OpenAIGPTConfig",
        "OpenAIGPTModel",
        "none",
        "mean",
        {"n_embd": WIDTH, "n_layer": LAYERS, "n_head": HEADS, "n_positions": WINDOW},
    ),
    Family(
        "XGLM",
        "decoder",
        "XGLMConfig",
        "XGLMModel",
        "eos-as-bos",
        "last",
        {
            "d_model": WIDTH,
            "num_layers": LAYERS,
            "attention_heads": HEADS,
            "ffn_dim": 2 * WIDTH,
            "max_position_embeddings": WINDOW,
        },
    ),
    Family("Phi3", "decoder", "Phi3Config", "Phi3Model", "none", "last", _dec()),
    Family(
        "Qwen3",
        "decoder",
        "Qwen3Config",
        "Qwen3Model",
        "none",
        "last",
        _dec(num_key_value_heads=1, head_dim=WIDTH // HEADS),
    ),
    Family("OLMo2", "decoder", "Olmo2Config", "Olmo2Model", "none", "mean", _dec()),
    Family(
        "Starcoder2",
        "decoder",
        "Starcoder2Config",
        "Starcoder2Model",
        "none",
        "last",
        _dec(num_key_value_heads=1),
    ),
    Family(
        "Mixtral",
        "decoder (MoE)",
        "MixtralConfig",
        "MixtralModel",
        "bos",
        "last",
        _dec(
            num_key_value_heads=1,
            head_dim=WIDTH // HEADS,
            num_local_experts=2,
            num_experts_per_tok=1,
        ),
    ),
    Family(
        "Gemma2",
        "decoder",
        "Gemma2Config",
        "Gemma2Model",
        "bos",
        "mean",
        _dec(head_dim=WIDTH // HEADS, num_key_value_heads=1, sliding_window=16),
    ),
    Family(
        "Nystromformer (4 landmarks)",
        "encoder (runs one input length only)",
        "NystromformerConfig",
        "NystromformerModel",
        "cls/sep",
        "mean",
        _enc(num_landmarks=4, segment_means_seq_len=8),
        refused="input lengths",
    ),
    # the text side of contrastive models
    Family(
        "CLIP (text)",
        "contrastive text",
        "CLIPTextConfig",
        "CLIPTextModel",
        "bos+eos",
        "last",
        _enc(),
    ),
    Family(
        "SigLIP (text)",
        "contrastive text",
        "SiglipTextConfig",
        "SiglipTextModel",
        "eos",
        "last",
        _enc(),
    ),
    # the encoder of an encoder-decoder
    Family(
        "T5 (encoder)",
        "encoder of encoder-decoder",
        "T5Config",
        "T5EncoderModel",
        "eos",
        "mean",
        {
            "d_model": WIDTH,
            "d_kv": WIDTH // HEADS,
            "d_ff": 2 * WIDTH,
            "num_layers": LAYERS,
            "num_heads": HEADS,
            "is_encoder_decoder": False,
        },
        tokenizer_window=WINDOW,
    ),
)


def family(name: str) -> Family:
    """The row of :data:`FAMILIES` called ``name``."""
    for f in FAMILIES:
        if f.name == name:
            return f
    raise KeyError(f"no conformance family {name!r}; known: {[f.name for f in FAMILIES]}")


def build_tokenizer(template: str, window: int | None = None) -> Any:
    """A WordPiece tokenizer (``tokenizers`` library) over :data:`WORDS` and single
    letters, whose post-processor adds ``template``'s tokens the way the family does."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    roles = TEMPLATE_ROLES[template]
    specials = list(dict.fromkeys(roles.values()))
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    pieces = [*specials, *letters, *(f"##{c}" for c in letters), *WORDS]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(pieces))}
    tok = Tokenizer(models.WordPiece(vocab, unk_token=roles["unk_token"]))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.WordPiece()
    prefix, suffix = TEMPLATES[template]
    if prefix or suffix:
        single = " ".join([*prefix, "$A", *suffix])
        pair = " ".join([*prefix, "$A", *suffix, "$B", *suffix])
        tok.post_processor = processors.TemplateProcessing(
            single=single,
            pair=pair,
            special_tokens=[(t, vocab[t]) for t in dict.fromkeys([*prefix, *suffix])],
        )
    kwargs: dict[str, Any] = dict(roles)
    if window is not None:
        kwargs["model_max_length"] = window
    return PreTrainedTokenizerFast(tokenizer_object=tok, **kwargs)


def build_model(fam: Family, tok: Any) -> torch.nn.Module:
    """The family's tiny random model (seeded), sized for ``tok``'s vocabulary."""
    import transformers

    roles = TEMPLATE_ROLES[fam.template]
    ids = {
        f"{k}_id": tok.convert_tokens_to_ids(roles[k]) if k in roles else None
        for k in ("bos_token", "eos_token", "pad_token", "cls_token", "sep_token")
    }
    ids["pad_token_id"] = ids["pad_token_id"] if ids["pad_token_id"] is not None else 0
    config = getattr(transformers, fam.config)(vocab_size=len(tok), **ids, **fam.kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        model = getattr(transformers, fam.model)(config)
    return model.eval()


def write_pooling(folder: Path, mode: str) -> None:
    """sentence-transformers' ``modules.json`` and ``1_Pooling/config.json`` for ``mode``."""
    key = {"mean": "mean_tokens", "cls": "cls_token", "last": "lasttoken"}[mode]
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    (folder / "modules.json").write_text(json.dumps(modules, indent=1))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    modes = {
        f"pooling_mode_{m}": m == key
        for m in ("mean_tokens", "cls_token", "lasttoken", "max_tokens")
    }
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": WIDTH, **modes})
    )


def build_family(fam: Family, folder: Path) -> Path:
    """Write ``fam``'s tiny model, tokenizer and pooling files into ``folder``; return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tok = build_tokenizer(fam.template, fam.tokenizer_window)
    model = build_model(fam, tok)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    write_pooling(folder, fam.pooling)
    return folder
