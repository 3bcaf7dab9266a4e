"""Benchmark: peak host memory of each analysis against the model's shape (issue 17).

An analysis reads a model's cached states (``[n, L+1, d]`` per extraction) and measures
them layer by layer. This script measures the peak resident memory that each analysis adds
to a process, for two shapes of random states:

- GPT-2 small: 12 blocks (13 states), hidden size 768;
- GPT-2 large: 36 blocks (37 states), hidden size 1280,

and four analyses, each in a fresh subprocess per shape:

- ``cwe``: chapter 3's CWE geometry (:func:`~layerwise.measure.cwe.cwe_geometry` of
  :func:`~layerwise.measure.cwe.cwe_states`, ``--n`` sampled tokens);
- ``word tasks``: chapter 4's word tasks (the registry's) in the three word settings
  (:func:`~layerwise.measure.words.word_task_scores`: 2,255 words);
- ``sts``: chapter 5's STS Benchmark in the ``eos``, ``last`` and ``mean`` settings
  (:func:`~layerwise.measure.sentences.sts_benchmark_scores`: 2,552 sentences);
- ``chapter 7``: one model's share of chapter 7's four tables
  (:func:`~layerwise.measure.multi.model_parts`: CWE sample, words, sentences),

each in two ways:

- ``streamed`` (what the package does): every extraction is read from the cache one layer
  at a time (:meth:`~layerwise.extract.states.Extracted.layer`);
- ``all layers``: every :class:`~layerwise.extract.states.Extracted` the analysis reads is
  read whole on its first use (``Extracted.states``; ``layer(k)`` patched to go through it),
  as the cache returned states before issue 17.

The added memory is the peak RSS during the analysis (``VmHWM`` of ``/proc/self/status``
after resetting it with ``/proc/self/clear_refs``) minus the RSS just before it, after the
imports and a warm-up run of the same analysis on a tiny shape (2 blocks, width 16): the
data files, the tokenizer and the code paths are loaded then, and the freed heap is handed
back (glibc ``malloc_trim``), so the measured run adds the states, the requests and what the
analysis computes, not memory an earlier run left free for reuse. The ratio large/small
must follow the hidden size (1280 / 768 = 1.67), not layers x hidden size (37 x 1280 /
(13 x 768) = 4.74). What an analysis keeps of every layer has no hidden size in it (per
layer estimates, per-item cosines and effect sizes ``[n_items, L+1]``), and the bootstrap
resamples one layer at a time (``[100 resamples, n_items]`` arrays), so those terms stay
small. With few states (``--n 1000`` CWE tokens: 3 to 5 MiB a layer) the CWE analysis's
fixed costs and the allocator's noise (a few MiB) weigh on its ratio; ``--n 10000`` (the
paper's sample) measures it where the states dominate.

Reduced scale: the states are random float32 numbers of the two shapes, written into the
cache through the package's own extraction path (:func:`~layerwise.store.cached.cached_extract`
with ``extract`` replaced by a writer of random layer-major states, so every entry has the
key, shape and layout a real extraction gives), not computed by forward passes of
random-weight models: memory depends on the shapes only, and a 36-layer, 1280-wide model's
forward passes over the inputs take many minutes on 2 cores. The requests are the real ones
(tiny GPT-2's tokenizer, GPT-2's own); ``--n`` sets the number of sampled CWE tokens
(default 1,000, the ``reduced`` scale; 10,000 is the paper's), ``--n-resamples`` the
bootstrap resamples (default 200, the ``reduced`` scale). About 3 GB of disk for the large
shape's entries.

Prints a table and writes it to ``--json`` (default ``_build/peak_memory.json``). Linux only.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import zlib
from functools import lru_cache
from pathlib import Path

SHAPES = {"gpt2-small": (12, 768), "gpt2-large": (36, 1280)}
#: The shape of the warm-up run (blocks, width).
WARM = (2, 16)
ANALYSES = ("cwe", "word tasks", "sts", "chapter 7")
MODES = ("streamed", "all layers")


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _trim() -> None:
    """glibc's ``malloc_trim(0)``: return the freed heap to the system (nothing elsewhere)."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@lru_cache(maxsize=1)
def _tiny():
    from layerwise.models.loading import load_model

    return load_model("tiny:gpt2", device="cpu")


def _model(n_layers: int, d: int):
    """Tiny GPT-2's tokenizer and measured facts, with ``n_layers`` blocks of width ``d``
    and no weights: every state it is asked for must come from the cache."""
    from dataclasses import replace

    from layerwise.models.spec import LoadedModel

    tiny = _tiny()
    spec = replace(
        tiny.spec,
        name=f"random {n_layers}x{d}",
        source=f"random-{n_layers}x{d}",
        fingerprint=f"random-{n_layers}x{d}",
        n_layers=n_layers,
        hidden_size=d,
    )

    def no_weights():
        raise RuntimeError("the analysis reads cached states only")

    return LoadedModel(spec, tiny.tokenizer, loader=no_weights)


def _options(folder: str, n: int, n_resamples: int):
    from layerwise.measure.common import MeasureOptions
    from layerwise.store.cache import Cache

    s = MeasureOptions(n_cwe=n, n_resamples=n_resamples, cache=Cache(folder), progress=False)
    s.memo = None  # every run bootstraps: no interval read from an earlier run
    return s


def _random_extract(lm, requests, *, desc: str, spill=None, **_):
    """What ``extract(..., spill=folder)`` returns, with random states: a layer-major
    float32 file in ``spill`` (written one layer at a time) and a random ``top_alt``."""
    import numpy as np

    from layerwise.extract.states import Extracted, RawLayers

    n = sum(len(r.reads) for r in requests)
    shape = (n, lm.spec.n_states, lm.spec.hidden_size)
    rng = np.random.default_rng(zlib.crc32(f"{desc} {shape}".encode()))
    fd, name = tempfile.mkstemp(dir=spill, prefix=".layerwise-states-", suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        for _ in range(shape[1]):
            rng.standard_normal((n, shape[2]), dtype=np.float32).tofile(handle)
    top = rng.standard_normal((n, shape[2]), dtype=np.float32)
    return Extracted(top_alt=top, layers=RawLayers(name, 0, shape))


def _setup(folder: str, n: int, shapes: list[tuple[int, int]]) -> None:
    """Every extraction the four analyses read, for each shape, written into the cache."""
    import layerwise.store.cached as cached
    from layerwise import data
    from layerwise.extract.requests import WORD_SETTINGS
    from layerwise.measure.cwe import cwe_sentences, cwe_states
    from layerwise.measure.sentences import sentence_states
    from layerwise.measure.words import all_task_words, word_states

    cached.extract = _random_extract
    sts = data.sts_benchmark_sentences(data.load_sts_benchmark())
    for n_layers, d in shapes:
        lm = _model(n_layers, d)
        s = _options(folder, n, 1)
        cwe_states(lm, cwe_sentences([lm], s), s)
        word_states(lm, all_task_words(), list(WORD_SETTINGS), s)
        for setting in ("eos", "last", "mean"):
            sentence_states(lm, sts, setting, s)


def _analysis(name: str):
    from layerwise.measure.cwe import cwe_geometry, cwe_states
    from layerwise.measure.multi import model_parts
    from layerwise.measure.sentences import sts_benchmark_scores
    from layerwise.measure.words import word_task_scores

    return {
        "cwe": lambda lm, sentences, s: cwe_geometry(cwe_states(lm, sentences, s), lm),
        "word tasks": lambda lm, sentences, s: word_task_scores(lm, s=s),
        "sts": lambda lm, sentences, s: sts_benchmark_scores(lm, s=s),
        "chapter 7": lambda lm, sentences, s: model_parts(lm, sentences, s),
    }[name]


def _child(
    folder: str, n: int, n_layers: int, d: int, analysis: str, mode: str, out: str, n_resamples: int
) -> None:
    from layerwise.extract.states import Extracted
    from layerwise.measure.cwe import cwe_sentences

    run = _analysis(analysis)
    s = _options(folder, n, n_resamples)
    warm, lm = _model(*WARM), _model(n_layers, d)
    warm_sentences, sentences = cwe_sentences([warm], s), cwe_sentences([lm], s)
    if mode == "all layers":  # every Extracted read whole on first use, then kept
        Extracted.layer = lambda self, k: self.states[:, k]
    run(warm, warm_sentences, s)  # imports, data files, tokenizer, first-call costs
    gc.collect()
    _trim()  # freed heap back to the system: the analysis's own peak, not reused memory
    before = _rss_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
    result = run(lm, sentences, s)
    peak = _rss_mib("VmHWM")
    Path(out).write_text(
        json.dumps(
            {
                "before_mib": before,
                "peak_mib": peak,
                "added_mib": peak - before,
                "result": type(result).__name__,
            }
        )
    )


def _one_layer_mib(n: int, n_states: int, d: int) -> dict:
    """The largest single layer ``[n_reads, d]`` float32 of the extractions each analysis
    reads, and all layers of that extraction (MiB)."""
    from layerwise import data
    from layerwise.measure.words import all_task_words

    words = 2 * len(all_task_words())  # wrapped + eos of every task word: one extraction
    # last + mean of every STS-B sentence: one input for GPT-2, whose tokenizer adds nothing
    sentences = 2 * len(data.sts_benchmark_sentences(data.load_sts_benchmark()))
    reads = {"cwe": n, "word tasks": words, "sts": sentences}
    reads["chapter 7"] = max(reads.values())
    return {
        a: {"one": r * d * 4 / 2**20, "all": r * n_states * d * 4 / 2**20} for a, r in reads.items()
    }


def measure(n: int, n_resamples: int, analyses: list[str], modes: list[str]) -> dict:
    env = os.environ | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="peak-") as folder:
        shapes = [WARM, *SHAPES.values()]
        args = [str(n), json.dumps(shapes)]
        subprocess.run([sys.executable, __file__, "--setup", folder, *args], check=True, env=env)
        kept = {p for p in Path(folder).rglob("*")}
        for name, (n_layers, d) in SHAPES.items():
            shape = results.setdefault(name, {"layers": n_layers, "hidden": d})
            sizes = _one_layer_mib(n, n_layers + 1, d)
            for analysis in analyses:
                got = shape.setdefault(analysis, dict(sizes[analysis]))
                for mode in modes:
                    out = Path(folder) / "out.json"
                    cmd = [
                        sys.executable,
                        __file__,
                        "--child",
                        folder,
                        str(n),
                        str(n_layers),
                        str(d),
                    ]
                    cmd += [analysis, mode, str(out), str(n_resamples)]
                    subprocess.run(cmd, check=True, env=env)
                    got[mode] = json.loads(out.read_text())
                    for p in sorted(Path(folder).rglob("*"), reverse=True):  # the run's tables
                        if p not in kept and p.is_file():
                            p.unlink()
    report = {
        "n_tokens": n,
        "n_resamples": n_resamples,
        "shapes": results,
        "hidden_ratio": 1280 / 768,
        "layers_x_hidden_ratio": 37 * 1280 / (13 * 768),
        "ratios": {},
    }
    small, large = results["gpt2-small"], results["gpt2-large"]
    for analysis in analyses:
        report["ratios"][analysis] = {
            mode: large[analysis][mode]["added_mib"] / small[analysis][mode]["added_mib"]
            for mode in modes
        }
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--n", type=int, action="append", default=[], help="CWE tokens (default 1000)")
    p.add_argument("--n-resamples", type=int, default=200, help="bootstrap resamples (200)")
    p.add_argument("--analysis", action="append", choices=ANALYSES, help="default: all four")
    p.add_argument("--mode", action="append", choices=MODES, help="default: both")
    p.add_argument("--json", type=Path, default=Path("_build") / "peak_memory.json")
    p.add_argument("--setup", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--child", nargs=8, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.setup:
        folder, n, shapes = args.setup
        _setup(folder, int(n), [tuple(x) for x in json.loads(shapes)])
        return
    if args.child:
        folder, n, layers, d, analysis, mode, out, n_resamples = args.child
        _child(folder, int(n), int(layers), int(d), analysis, mode, out, int(n_resamples))
        return
    analyses, modes = args.analysis or list(ANALYSES), args.mode or list(MODES)
    reports = [measure(n, args.n_resamples, analyses, modes) for n in (args.n or [1000])]
    for r in reports:
        print(
            f"n = {r['n_tokens']} CWE tokens, {r['n_resamples']} bootstrap resamples; added peak "
            "RSS of each analysis (MiB); 'one layer' / 'all layers': the largest extraction read"
        )
        head = f"{'analysis':12s}{'shape':12s}{'one layer':>11s}{'all layers':>12s}"
        print(head + "".join(f"{m:>12s}" for m in modes))
        for analysis in r["ratios"]:
            for name, s in r["shapes"].items():
                a = s[analysis]
                line = f"{analysis:12s}{name:12s}{a['one']:11.1f}{a['all']:12.1f}"
                print(line + "".join(f"{a[m]['added_mib']:12.1f}" for m in modes))
        for analysis, ratio in r["ratios"].items():
            got = ", ".join(f"{m} {v:.2f}" for m, v in ratio.items())
            print(f"large / small, {analysis}: {got}")
        print(
            f"hidden size ratio {r['hidden_ratio']:.2f}, layers x hidden "
            f"{r['layers_x_hidden_ratio']:.2f}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(reports, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
