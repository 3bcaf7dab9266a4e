"""Benchmark: reading an extraction entry, the zip format (format 2) against safetensors (3).

An entry of ``--n`` reads (1,000), ``--states`` states (13: GPT-2 small) and width ``--d``
(768), with ``top_alt``, is written in both formats from the same random float32 states:
the current one by :mod:`layerwise.store.entries`, the zip one by that module as it was at
``--old`` (a git revision; loaded from ``git show``). For each it reports the file's size,
the time to open and verify it (``read_entry(verify=True)``: the checksum pass), to read one
layer (layer 6, from an entry already verified), and to read every layer one at a time,
the median of ``--repeat`` runs (the files are in the page cache after the first), the
resident memory the reads add (``VmHWM`` of ``/proc/self/status`` after resetting it with
``/proc/self/clear_refs``, Linux only) and whether both give the same bytes.

    .venv/bin/python benchmarks/entry_format.py [--n 1000 --states 13 --d 768]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import numpy as np

import layerwise.store.entries as new_entries
from layerwise.extract.states import Extracted

ROOT = Path(__file__).resolve().parents[1]


def old_module(rev: str):
    """``layerwise.store.entries`` as it was at ``rev`` (the zip format), loaded as
    ``layerwise.store._entries_old`` so that its relative imports resolve."""
    source = subprocess.run(
        ["git", "show", f"{rev}:src/layerwise/store/entries.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    folder = Path(tempfile.mkdtemp())
    path = folder / "entries_old.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("layerwise.store._entries_old", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def timed(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--states", type=int, default=13)
    parser.add_argument("--d", type=int, default=768)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--old", default="c878b05")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    states = rng.standard_normal((args.n, args.states, args.d), dtype=np.float32)
    alt = rng.standard_normal((args.n, args.d), dtype=np.float32)
    result = Extracted(states, alt)
    key = "ab" + "0" * 62
    old = old_module(args.old)
    folder = Path(tempfile.mkdtemp())
    formats = {"zip (format 2)": (old, ".npz"), "safetensors (format 3)": (new_entries, SUFFIX)}
    rows = []
    read_back = {}
    for name, (module, suffix) in formats.items():
        path = folder / f"{key}{suffix}"
        with open(path, "wb") as handle:
            start = time.perf_counter()
            module.write_arrays(handle, key, result)
            write_s = time.perf_counter() - start
        verify_s = timed(lambda m=module, p=path: m.read_entry(p, verify=True), args.repeat)
        open_s = timed(lambda m=module, p=path: m.read_entry(p, verify=False), args.repeat)
        _, layers, _ = module.read_entry(path, verify=False)
        one_s = timed(lambda layers=layers: layers.layer(args.states // 2), args.repeat)
        every_s = timed(
            lambda layers=layers: [layers.layer(k) for k in range(args.states)], args.repeat
        )
        before = _rss_kib("VmRSS")
        _reset_peak()
        for k in range(args.states):
            layers.layer(k)
        added_mib = (_rss_kib("VmHWM") - before) / 1024
        read_back[name] = b"".join(layers.layer(k).tobytes() for k in range(args.states))
        rows.append(
            (name, path.stat().st_size, write_s, verify_s, open_s, one_s, every_s, added_mib)
        )
    print(
        f"entry: {args.n} reads x {args.states} states x {args.d} wide, float32, with top_alt"
        f" ({args.n * args.states * args.d * 4 / 2**20:.1f} MiB of states); "
        f"median of {args.repeat}"
    )
    header = (
        "format",
        "size (bytes)",
        "write (ms)",
        "open+verify (ms)",
        "open (ms)",
        "one layer (ms)",
        "all layers (ms)",
        "peak added by all layers (MiB)",
    )
    print(" | ".join(header))
    for name, size, *times, added in rows:
        print(" | ".join([name, f"{size:,}", *(f"{1000 * t:.2f}" for t in times), f"{added:.1f}"]))
    same = len(set(read_back.values())) == 1
    print(f"same bytes read back from both formats: {same}")
    written = b"".join(np.ascontiguousarray(states[:, k]).tobytes() for k in range(args.states))
    print(f"and equal to the states written: {set(read_back.values()) == {written}}")


SUFFIX = new_entries.SUFFIX

if __name__ == "__main__":
    main()
