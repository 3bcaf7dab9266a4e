"""Requests: which tokens go into the model and which positions are read, per setting.

The unit of work is a :class:`Request`: the token ids of one input and the *reads* to
take from it, each a half-open span ``[start, stop)`` of positions (one token:
``(p, p + 1)``; mean pooling: the span of the text's tokens). The position rules of the
paper's settings live here, once: words in each setting of Table 1
(:data:`WORD_SETTINGS`, :func:`word_requests`; chapter 4), sentences in each setting of
chapter 5 (:data:`SENTENCE_SETTINGS`, :func:`sentence_requests`), and the sampled
contextual word embeddings of chapter 3 (:func:`sample_token_positions`,
:func:`cwe_requests`). Running them is :mod:`.batched`'s job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..models.pooling import native_span
from ..models.spec import LoadedModel

#: Word settings of Table 1, and for each how the word is presented and which position is read.
WORD_SETTINGS = {
    "bare": "the word alone, no special tokens; its last subtoken (GPT-2 'no BOS')",
    "wrapped": "open + word + close tokens; the word's last subtoken (CLIP; GPT-2 'with BOS')",
    "eos": "open + word + close tokens; the closing token (CLIP EOS, GPT-2 EOS)",
}
#: Sentence settings (chapter 5).
SENTENCE_SETTINGS = {
    "eos": "open + sentence + close tokens; the closing token",
    "last": "the sentence alone, no special tokens; its last subtoken",
    "mean": "the model's native input (its own special tokens); mean over the sentence's tokens",
    "native": "the model's native input; its own pooling (mean over all tokens, specials "
    "included; the first; or the last)",
}


@dataclass(frozen=True)
class Request:
    """Token ids of one input and the spans to read from it (``[start, stop)``)."""

    ids: tuple[int, ...]
    reads: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        n = len(self.ids)
        if n == 0:
            raise InputError("a request needs at least one token")
        if not self.reads:
            raise InputError("a request needs at least one read span")
        for start, stop in self.reads:
            if not 0 <= start < stop <= n:
                raise InputError(f"read span ({start}, {stop}) outside an input of {n} tokens")


def requests_digest(requests: Sequence[Request]) -> str:
    """sha256 of the requests (ids and reads): the input part of a cache key."""
    h = hashlib.sha256()
    for r in requests:
        h.update(json.dumps([r.ids, r.reads]).encode())
        h.update(b"\n")
    return h.hexdigest()


def word_requests(
    lm: LoadedModel, words: Sequence[str], setting: str, *, leading_space: bool = False
) -> list[Request]:
    """One request per word in a Table 1 setting (see :data:`WORD_SETTINGS`).

    ``leading_space`` presents the word as " word" (GPT-2's word-initial form), an
    ablation of the authors' scripts, which concatenate without a space.
    """
    if setting not in WORD_SETTINGS:
        raise InputError(f"unknown word setting {setting!r}; choose one of {list(WORD_SETTINGS)}")
    texts = [" " + w if leading_space else w for w in clean_texts(words, "word")]
    how = "bare" if setting == "bare" else "wrapped"
    return [_text_request(lm, toks, setting, how=how) for toks in lm.tokens_many(texts)]


def sentence_requests(lm: LoadedModel, sentences: Sequence[str], setting: str) -> list[Request]:
    """One request per sentence in a chapter 5 setting (see :data:`SENTENCE_SETTINGS`)."""
    if setting not in SENTENCE_SETTINGS:
        raise InputError(
            f"unknown sentence setting {setting!r}; choose one of {list(SENTENCE_SETTINGS)}"
        )
    texts = clean_texts(sentences, "sentence")
    if setting == "native":  # the model's own pooling over its native input
        mode = require_pooling(lm)
        out = []
        for toks in lm.tokens_many(texts):
            ids = lm.spec.native_ids(toks)
            out.append(Request(ids=ids, reads=(native_span(mode, len(ids)),)))
        return out
    how = {"eos": "wrapped", "last": "bare", "mean": "native"}[setting]
    return [_text_request(lm, toks, setting, how=how) for toks in lm.tokens_many(texts)]


def require_pooling(lm: LoadedModel) -> str:
    """The model's own sentence pooling (found at load, ``spec.pooling``); InputError
    when it defines none."""
    if lm.spec.pooling is None:
        raise InputError(
            f"{lm.spec.source}: the model defines no sentence pooling (no sentence-transformers "
            "modules.json with a Pooling module), so the 'native' setting is undefined for it; "
            "use 'eos', 'last' or 'mean'"
        )
    return lm.spec.pooling


def clean_texts(texts: Sequence[str], what: str) -> list[str]:
    """``texts`` with surrounding whitespace removed, as they are tokenized.

    A trailing space would otherwise become a token of its own (GPT-2 reads ``"cat "`` as
    ``cat`` + a space token), so the "last subtoken" would be whitespace. Raises
    :class:`~layerwise.errors.InputError` for a bare string (a sequence of texts is
    expected), a non-string, or an empty / all-whitespace text, naming its index.
    """
    if isinstance(texts, str):
        raise InputError(f"expected a list of {what}s, got the single string {texts!r}")
    out = []
    for i, text in enumerate(texts):
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{what} {i} must be a non-empty string, got {text!r}")
        out.append(text.strip())
    return out


def _text_request(lm: LoadedModel, toks: list[int], setting: str, *, how: str) -> Request:
    """The request of one text's tokens presented ``how``: ``"bare"`` (no special tokens),
    ``"wrapped"`` (:attr:`~layerwise.models.spec.ModelSpec.wrap_prefix` + text +
    ``wrap_suffix``) or ``"native"`` (the tokenizer's own prefix + text + suffix), reading
    the last subtoken, the last token (``"eos"``) or the mean over the text (``"mean"``)."""
    n = len(toks)
    spec = lm.spec
    before, after = {
        "bare": ((), ()),
        "wrapped": (spec.wrap_prefix, spec.wrap_suffix),
        "native": (spec.prefix_ids, spec.suffix_ids),
    }[how]
    ids = (*before, *toks, *after)
    first = len(before)
    if setting == "eos":
        read = (len(ids) - 1, len(ids))
    elif setting == "mean":
        read = (first, first + n)
    else:  # bare / wrapped / last: the text's last subtoken
        read = (first + n - 1, first + n)
    return Request(ids=ids, reads=(read,))


@dataclass(frozen=True)
class TokenSample:
    """Sampled token positions: ``sentence[i]``, ``position[i]`` (in the native input)."""

    sentence: np.ndarray
    position: np.ndarray
    n_real_tokens: int


def native_inputs(lm: LoadedModel, sentences: Sequence[str]) -> tuple[list[tuple[int, ...]], int]:
    """Token ids of each sentence as the model natively takes it (its own prefix and
    suffix tokens around it), and the offset of the first real token (the prefix's length)."""
    spec = lm.spec
    sentences = clean_texts(sentences, "sentence")
    return [spec.native_ids(t) for t in lm.tokens_many(sentences)], len(spec.prefix_ids)


def sample_token_positions(
    n_tokens_per_sentence: Sequence[int], n: int, rng: np.random.Generator, offset: int = 0
) -> TokenSample:
    """Draw ``n`` distinct real-token positions uniformly over all sentences' tokens.

    ``n_tokens_per_sentence`` counts real tokens only (no BOS/EOS/padding), which
    sit at positions ``offset .. offset + count - 1`` of each input. Sampling is
    without replacement, seeded through ``rng``, and returned sorted by
    (sentence, position) so the same positions can be read at every layer.
    """
    counts = np.asarray(n_tokens_per_sentence, dtype=np.int64)
    total = int(counts.sum())
    if n > total:
        raise InputError(f"cannot sample {n} token positions from {total} real tokens")
    flat = np.sort(rng.choice(total, size=n, replace=False))
    ends = np.cumsum(counts)
    sentence = np.searchsorted(ends, flat, side="right")
    starts = ends - counts
    position = flat - starts[sentence] + offset
    return TokenSample(sentence=sentence, position=position, n_real_tokens=total)


def cwe_requests(
    lm: LoadedModel,
    sentences: Sequence[str],
    n: int,
    rng: np.random.Generator,
    *,
    include_special: bool = False,
    counts: Sequence[int] | None = None,
) -> tuple[list[Request], TokenSample]:
    """Requests reading ``n`` randomly sampled real tokens of ``sentences`` (Figures 1-2).

    Only sentences holding at least one sampled token are run (and tokenized, when
    ``counts``, each sentence's number of real tokens, is given). ``include_special``
    samples over every position of the native input, its special tokens included (the
    authors' script, methodology note 2), for the ablation of chapter 6. The native input
    is the tokenizer's own prefix + sentence + suffix
    (:attr:`~layerwise.models.spec.ModelSpec.prefix_ids`).
    """
    spec = lm.spec
    wrap = len(spec.prefix_ids) + len(spec.suffix_ids)
    sentences = clean_texts(sentences, "sentence")
    if counts is None:
        counts = [len(t) for t in lm.tokens_many(sentences)]
    elif len(counts) != len(sentences):
        raise InputError(f"{len(counts)} token counts for {len(sentences)} sentences")
    offset = 0 if include_special else len(spec.prefix_ids)
    sizes = [c + wrap if include_special else c for c in counts]
    sample = sample_token_positions(sizes, n, rng, offset)
    requests = []
    touched = np.unique(sample.sentence)
    for s, toks in zip(touched, lm.tokens_many([sentences[i] for i in touched]), strict=True):
        ids = spec.native_ids(toks)
        positions = sample.position[sample.sentence == s]
        requests.append(Request(ids=ids, reads=tuple((int(p), int(p) + 1) for p in positions)))
    return requests, sample


def unique(items: Iterable[str]) -> list[str]:
    """Items in first-appearance order without repeats."""
    return list(dict.fromkeys(items))
