"""Benchmark: peak host memory of the CWE analysis on states from real forward passes.

``peak_memory.py`` measures the analysis on random states of each shape. This script
makes the states the way a run does: a random-weight GPT-2 of each shape (GPT-2 small:
12 blocks, hidden size 768, 12 heads; GPT-2 large: 36 blocks, hidden size 1280, 20
heads; the GPT-2 tokenizer), saved to a folder and loaded with
:func:`~layerwise.models.loading.load_model`, extracts the reduced-scale CWE sample
(``--n`` sampled tokens of the window-filtered STS 2012-2016 sentences,
:func:`~layerwise.measure.cwe.cwe_states`) through a fresh cache, in one subprocess. A
second subprocess, which never loads the weights, reads that cache entry and runs
:func:`~layerwise.measure.cwe.cwe_geometry`: its added peak RSS (``VmHWM`` after
``clear_refs``, minus the RSS before) is the analysis's memory. The ratio large/small
must follow the hidden size (1.67), not layers x hidden size (4.74). The extraction's own
peak RSS is reported too; it holds the weights (about 0.5 and 3 GiB), so it does not
follow either ratio.

Linux only; the GPT-2 large shape needs about 3 GiB of disk and some minutes on 2 cores.
Prints a table and writes it to ``--json`` (default ``_build/peak_memory_forward.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SHAPES = {"gpt2-small": (12, 768, 12), "gpt2-large": (36, 1280, 20)}


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _extract(folder: str, n_layers: int, d: int, heads: int, n: int, out: str) -> None:
    """Random weights of the shape, saved and loaded as a user's model is; the CWE sample
    extracted into the cache ``folder/cache``."""
    import torch
    from transformers import GPT2Config, GPT2Model

    from layerwise.measure.common import MeasureOptions
    from layerwise.measure.cwe import cwe_sentences, cwe_states
    from layerwise.models.loading import load_model
    from layerwise.models.tokenizers import gpt2_tokenizer
    from layerwise.store.cache import Cache

    torch.manual_seed(0)
    model_dir = Path(folder) / "model"
    config = GPT2Config(n_layer=n_layers, n_embd=d, n_head=heads)
    GPT2Model(config).save_pretrained(model_dir)
    gpt2_tokenizer().save_pretrained(model_dir)
    cache = Path(folder) / "cache"
    lm = load_model(str(model_dir), device="cpu", cache_dir=cache)
    s = MeasureOptions(n_cwe=n, cache=Cache(cache))
    ex = cwe_states(lm, cwe_sentences([lm], s), s)
    result = {"entry": str(ex.file), "shape": list(ex.shape), "peak_mib": _rss_mib("VmHWM")}
    Path(out).write_text(json.dumps(result))


def _analyse(folder: str, n: int, out: str) -> None:
    """The CWE analysis of the cached sample, in a process that never loads the weights
    (the model's spec and the states come from the cache)."""
    import numpy as np

    from layerwise.extract.states import Extracted
    from layerwise.measure.common import MeasureOptions
    from layerwise.measure.cwe import cwe_geometry, cwe_sentences, cwe_states
    from layerwise.models.loading import load_model
    from layerwise.store.cache import Cache

    cache = Path(folder) / "cache"
    lm = load_model(str(Path(folder) / "model"), device="cpu", cache_dir=cache, lazy=True)
    s = MeasureOptions(n_cwe=n, cache=Cache(cache))
    sentences = cwe_sentences([lm], s)
    spec = lm.spec
    warm = np.random.default_rng(1).standard_normal(
        (8, spec.n_layers + 1, spec.hidden_size), dtype=np.float32
    )
    cwe_geometry(Extracted(warm, warm[:, -1].copy()), lm)  # imports and first-call costs
    before = _rss_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
    ex = cwe_states(lm, sentences, s)
    assert ex.on_disk and ex.n_states == spec.n_layers + 1
    table = cwe_geometry(ex, lm)
    peak = _rss_mib("VmHWM")
    assert not lm.weights_loaded, "the analysis must read cached states only"
    values = table["value"].to_numpy()
    result = {
        "before_mib": before,
        "peak_mib": peak,
        "added_mib": peak - before,
        "n_reads": len(ex),
        "finite": bool(np.isfinite(values).all()),
    }
    Path(out).write_text(json.dumps(result))


def measure(n: int) -> dict:
    results: dict = {}
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    for name, (n_layers, d, heads) in SHAPES.items():
        with tempfile.TemporaryDirectory(prefix="peak-forward-") as folder:
            out = Path(folder) / "extract.json"
            cmd = [sys.executable, __file__, "--extract", folder, str(n_layers), str(d)]
            cmd += [str(heads), str(n), str(out)]
            subprocess.run(cmd, check=True, env=os.environ)
            made = json.loads(out.read_text())
            out = Path(folder) / "analyse.json"
            cmd = [sys.executable, __file__, "--analyse", folder, str(n), str(out)]
            subprocess.run(cmd, check=True, env=env)
            got = json.loads(out.read_text())
        one = got["n_reads"] * d * 4 / 2**20
        results[name] = {
            "layers": n_layers,
            "hidden": d,
            "extraction_peak_mib": made["peak_mib"],
            "analysis": got,
            "one_layer_mib": one,
            "all_layers_mib": one * (n_layers + 1),
        }
    small, large = results["gpt2-small"], results["gpt2-large"]
    return {
        "n_tokens": n,
        "shapes": results,
        "ratio": large["analysis"]["added_mib"] / small["analysis"]["added_mib"],
        "hidden_ratio": 1280 / 768,
        "layers_x_hidden_ratio": 37 * 1280 / (13 * 768),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, default=1000, help="sampled tokens (default 1000: reduced)")
    p.add_argument("--json", type=Path, default=Path("_build") / "peak_memory_forward.json")
    p.add_argument("--extract", nargs=6, help=argparse.SUPPRESS)
    p.add_argument("--analyse", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.extract:
        folder, layers, d, heads, n, out = args.extract
        _extract(folder, int(layers), int(d), int(heads), int(n), out)
        return
    if args.analyse:
        folder, n, out = args.analyse
        _analyse(folder, int(n), out)
        return
    r = measure(args.n)
    print(f"n = {r['n_tokens']} sampled tokens, states from forward passes of random weights")
    print(f"{'shape':12s}{'one layer':>11s}{'all layers':>12s}{'analysis':>10s}{'extraction':>12s}")
    for name, s in r["shapes"].items():
        print(
            f"{name:12s}{s['one_layer_mib']:11.1f}{s['all_layers_mib']:12.1f}"
            f"{s['analysis']['added_mib']:10.1f}{s['extraction_peak_mib']:12.1f}"
        )
    print(
        f"analysis, large / small: {r['ratio']:.2f}; hidden size ratio {r['hidden_ratio']:.2f}, "
        f"layers x hidden {r['layers_x_hidden_ratio']:.2f} (MiB; analysis: added peak RSS; "
        "extraction: the whole process's peak, weights included)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(r, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
