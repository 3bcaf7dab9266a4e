"""The text chapter 2 (``notebooks/02_extraction``) states: what each model is, how words
and sentences are read, the CWE sample, the batching check, timings and the cache."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from .common import count

if TYPE_CHECKING:
    from ...extract.requests import Request, TokenSample
    from ...models.spec import LoadedModel

#: The batched and the one-at-a-time states must agree to this relative difference
#: (rounding from different matrix shapes, nothing more; the tests use the same bound).
BATCHING_TOLERANCE = 1e-5

#: What a model's last hidden state is, by ``ModelSpec.top_state``.
TOP_STATE = {
    "post_norm": "after the final layer norm",
    "pre_norm": "before the final layer norm",
    "no_final_norm": "the output of the last block (the model has no final layer norm)",
}


def spec_sentences(models: Mapping[str, LoadedModel]) -> str:
    """One sentence per model: blocks, hidden states and their size, window, top state."""
    return " ".join(
        f"{lm.spec.name} has {lm.spec.n_layers} blocks, hence {lm.spec.n_states} hidden states "
        f"of size {lm.spec.hidden_size} per token, and a {lm.spec.max_length:,}-token window; "
        f"its last hidden state is {TOP_STATE[lm.spec.top_state]}."
        for lm in models.values()
    )


def batching_texts(diffs: pd.DataFrame) -> dict[str, str]:
    """The batching check per model (columns: largest absolute difference, largest entry,
    largest relative difference, in this order): ``batch_abs``, ``batch_big``,
    ``batch_diffs`` and ``batch_ok`` (relative difference under
    :data:`BATCHING_TOLERANCE`)."""
    largest = diffs.iloc[:, 2].max()
    return {
        "batch_abs": "; ".join(f"{n}: {d:.1e}" for n, d in diffs.iloc[:, 0].items()),
        "batch_big": "; ".join(f"{n}: {v:,.1f}" for n, v in diffs.iloc[:, 1].items()),
        "batch_diffs": "; ".join(f"{n}: {d:.1e}" for n, d in diffs.iloc[:, 2].items()),
        "batch_ok": "holds" if largest < BATCHING_TOLERANCE else "does NOT hold",
    }


def word_texts(models: Mapping[str, LoadedModel], word: str) -> dict[str, str]:
    """The example word (``example_word``) and how many subtokens each model splits it
    into (``example_word_split``)."""
    split = "; ".join(
        f"{lm.spec.name}: {len(lm.tokens(word))} subtoken(s)" for lm in models.values()
    )
    return {"example_word": word, "example_word_split": split}


def sample_texts(
    n_cwe: int,
    cwe_sentences: Sequence[str],
    samples: Mapping[str, tuple[Sequence[Request], TokenSample]],
    shown: Request,
    shown_model: LoadedModel,
) -> dict[str, str]:
    """The CWE sample: its size (``n_cwe``), the window-filtered sentences it draws from
    (``n_cwe_sentences``), each model's real tokens and sentences touched (``cwe_counts``),
    and the request shown with its sampled positions (``shown_reads``, ``shown_model``)."""
    cwe_counts = "; ".join(
        f"{name}: {smp.n_real_tokens:,} real tokens, {len(reqs):,} sentences touched"
        for name, (reqs, smp) in samples.items()
    )
    return {
        "n_cwe": count(n_cwe),
        "n_cwe_sentences": count(len(cwe_sentences)),
        "cwe_counts": cwe_counts,
        "shown_reads": str(len(shown.reads)),
        "shown_model": shown_model.spec.name,
    }


def chapter2(
    *,
    models: Mapping[str, LoadedModel],
    word: str,
    sentence: str,
    n_cwe: int,
    cwe_sentences: Sequence[str],
    samples: Mapping[str, tuple[Sequence[Request], TokenSample]],
    shown: Request,
    shown_model: LoadedModel,
    diffs: pd.DataFrame,
) -> dict[str, str]:
    """Every text chapter 2 states, by name (its section functions together).

    Args:
        models: role -> loaded model.
        word, sentence: the example word and sentence shown token by token.
        n_cwe: the run's number of sampled CWE positions.
        cwe_sentences: the window-filtered sentences the sample is drawn from.
        samples: model name -> (its requests, its :class:`~layerwise.extract.requests.TokenSample`)
            (:func:`~layerwise.measure.cwe.cwe_sample`).
        shown, shown_model: the request shown with its sampled positions, and its model.
        diffs: the batching check, one row per model name
            (:func:`~layerwise.measure.cwe.batching_check`).

    Returns:
        ``spec_sentences``; ``example_word``, ``example_word_split``, ``example_sentence``;
        ``n_cwe``, ``n_cwe_sentences``, ``cwe_counts``, ``shown_reads``, ``shown_model``;
        the :func:`batching_texts`.
    """
    return {
        "spec_sentences": spec_sentences(models),
        **word_texts(models, word),
        "example_sentence": sentence,
        **sample_texts(n_cwe, cwe_sentences, samples, shown, shown_model),
        **batching_texts(diffs),
    }
