"""Benchmark: peak host memory of the CWE analysis against the model's shape (issue 17).

The CWE analysis of chapter 3 reads a model's cached CWE states ``[n, L+1, d]`` and
computes every measure of :data:`~layerwise.measure.cwe.CWE_MEASURES` at every layer
(:func:`~layerwise.measure.cwe.cwe_geometry`). This script measures the peak resident
memory that analysis adds to a process, for two shapes of random states:

- GPT-2 small: 12 blocks (13 states), hidden size 768;
- GPT-2 large: 36 blocks (37 states), hidden size 1280,

each in a fresh subprocess, in two ways:

- ``streamed`` (what the package does): the entry is read from the cache one layer at a
  time (:meth:`~layerwise.extract.batched.Extracted.layer`);
- ``all layers``: the same entry read whole first (``Extracted.states``), as the cache
  returned it before issue 17.

The added memory is the peak RSS during the analysis (``VmHWM`` of ``/proc/self/status``
after resetting it with ``/proc/self/clear_refs``) minus the RSS just before it, after the
imports and a warm-up analysis of a tiny array. The ratio large/small must follow the
hidden size (1280 / 768 = 1.67), not layers x hidden size (37 x 1280 / (13 x 768) = 4.74).

Reduced scale: the states are random float32 numbers of the two shapes, written into the
cache through :meth:`~layerwise.store.cache.Cache.save` (the entry a real extraction
writes), not computed by forward passes of random-weight models: memory depends on the
shapes only, and a 36-layer, 1280-wide model's forward passes over the CWE sentences take
many minutes on 2 cores. ``--n`` sets the number of sampled tokens (default 1,000, the
``reduced`` scale; 10,000 is the paper's).

Prints a table and writes it to ``--json`` (default ``_build/peak_memory.json``). Linux only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SHAPES = {"gpt2-small": (12, 768), "gpt2-large": (36, 1280)}
KEY = "ee" + "0" * 62


def _rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _write_entry(cache_dir: Path, n: int, n_states: int, d: int, seed: int = 0) -> None:
    """A cache entry of random states ``[n, n_states, d]``, written layer by layer."""
    import numpy as np

    from layerwise.extract.batched import Extracted, RawLayers
    from layerwise.store.cache import Cache

    rng = np.random.default_rng(seed)
    raw = cache_dir / "raw.f32"
    with open(raw, "wb") as handle:
        for _ in range(n_states):
            rng.standard_normal((n, d), dtype=np.float32).tofile(handle)
    top = rng.standard_normal((n, d), dtype=np.float32)
    Cache(cache_dir).save(KEY, Extracted(top_alt=top, layers=RawLayers(raw, 0, (n, n_states, d))))
    raw.unlink()


def _spec(n_layers: int, d: int):
    from layerwise.models.spec import LoadedModel, ModelSpec

    spec = ModelSpec(
        source="random",
        name=f"random {n_layers}x{d}",
        model_type="gpt2",
        revision="none",
        n_layers=n_layers,
        hidden_size=d,
        max_length=1024,
        open_id=0,
        close_id=0,
        pad_id=0,
        native_wrap=False,
        top_state="post_norm",
        device="cpu",
        dtype="float32",
        causal=True,
    )

    def no_weights():
        raise RuntimeError("the analysis reads cached states only")

    return LoadedModel(spec, None, loader=no_weights)


def _child(cache_dir: str, n: int, n_layers: int, d: int, mode: str, out: str) -> None:
    import numpy as np

    from layerwise.extract.batched import Extracted
    from layerwise.measure.cwe import cwe_geometry
    from layerwise.store.cache import Cache

    lm = _spec(n_layers, d)
    warm = np.random.default_rng(1).standard_normal((8, n_layers + 1, d), dtype=np.float32)
    cwe_geometry(Extracted(warm, warm[:, -1].copy()), lm)  # imports and first-call costs
    before = _rss_mib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to now
    ex = Cache(cache_dir).load(KEY, expect=(n, n_layers + 1, d), alt=True)
    assert ex is not None and ex.on_disk
    if mode == "all layers":
        ex.states  # noqa: B018 - read every layer into memory, as before issue 17
    table = cwe_geometry(ex, lm)
    peak = _rss_mib("VmHWM")
    Path(out).write_text(
        json.dumps(
            {"before_mib": before, "peak_mib": peak, "added_mib": peak - before, "rows": len(table)}
        )
    )


def measure(n: int) -> dict:
    results: dict = {}
    for name, (n_layers, d) in SHAPES.items():
        with tempfile.TemporaryDirectory(prefix="peak-") as folder:
            _write_entry(Path(folder), n, n_layers + 1, d)
            for mode in ("streamed", "all layers"):
                out = Path(folder) / "out.json"
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    folder,
                    str(n),
                    str(n_layers),
                    str(d),
                    mode,
                    str(out),
                ]
                subprocess.run(cmd, check=True, env=os.environ | {"OMP_NUM_THREADS": "1"})
                got = json.loads(out.read_text())
                results.setdefault(name, {"layers": n_layers, "hidden": d})[mode] = got
        one = n * d * 4 / 2**20
        results[name]["one_layer_mib"] = one
        results[name]["all_layers_mib"] = one * (n_layers + 1)
    small, large = results["gpt2-small"], results["gpt2-large"]
    report = {
        "n_tokens": n,
        "shapes": results,
        "hidden_ratio": 1280 / 768,
        "layers_x_hidden_ratio": 37 * 1280 / (13 * 768),
        "blocks_x_hidden_ratio": 36 * 1280 / (12 * 768),
    }
    for mode in ("streamed", "all layers"):
        report[f"ratio_{mode.replace(' ', '_')}"] = (
            large[mode]["added_mib"] / small[mode]["added_mib"]
        )
    return report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--n", type=int, action="append", default=[], help="sampled tokens (default 1000)"
    )
    p.add_argument("--json", type=Path, default=Path("_build") / "peak_memory.json")
    p.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        folder, n, layers, d, mode, out = args.child
        _child(folder, int(n), int(layers), int(d), mode, out)
        return
    reports = [measure(n) for n in (args.n or [1000])]
    for r in reports:
        print(f"n = {r['n_tokens']} sampled tokens; added peak RSS of the CWE analysis (MiB)")
        print(
            f"{'shape':12s}{'one layer':>11s}{'all layers':>12s}{'streamed':>10s}{'all read':>10s}"
        )
        for name, s in r["shapes"].items():
            print(
                f"{name:12s}{s['one_layer_mib']:11.1f}{s['all_layers_mib']:12.1f}"
                f"{s['streamed']['added_mib']:10.1f}{s['all layers']['added_mib']:10.1f}"
            )
        print(
            f"large / small: streamed {r['ratio_streamed']:.2f}, all layers read "
            f"{r['ratio_all_layers']:.2f}; hidden size ratio {r['hidden_ratio']:.2f}, "
            f"layers x hidden {r['layers_x_hidden_ratio']:.2f}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(reports, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
