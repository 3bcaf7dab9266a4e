"""Benchmark: where a run's time goes, cold and warm, step by step (``make bench``).

For each profile (``offline``; ``paper`` when its models are cached; the ``paper``
profile on the rehearsal weights of ``--rehearsal``, which ``make bench`` passes after
``make rehearse``) at reduced scale, one fresh
process runs the reproduction's four tables twice against a new, empty cache:
*cold* (everything computed) and then *warm* (a second process, same cache). Each
process times five steps:

- ``tokenize``: the window-filtered CWE sentence set and the requests of every
  extraction (words, sentences, CWE sample);
- ``load``: tokenizers, model specs and, only when something is not cached, the
  weights;
- ``extract``: every extraction the tables read (through the cache);
- ``metrics``: the four tables with one bootstrap resample (point estimates);
- ``bootstrap``: the four tables at the scale's resamples, minus ``metrics``.
The cold process also times every forward pass of a model inside its extractions
(``floor``: from the model's forward pre-hook to its forward hook, the model called on
the padded batch with its hidden states out): the time no build can go below on this
machine, measured in the same moments as the build, so a change of load on a shared
machine moves both alike. The table prints it beside the cold total, and the JSON gives
``overhead`` = cold total / floor (target: 1.4 or less on 2 cores). ``--bare-floor``
also re-runs the recorded batches as bare forward passes after the five steps
(``bare_floor``, a cross-check that is only fair on an idle machine: it runs minutes
later than the build it is compared with).
In the warm run the tables come from the cache, so ``metrics`` and ``bootstrap``
are the cost of reading them, and ``bootstrap`` is the difference of two small times:
it is reported as measured, and a negative value (printed with a note) means the
difference is below the noise of the clock on a shared machine, not a negative cost.

Then ``benchmarks/extraction_speed.py`` measures the extraction ratios (package vs
one sentence at a time vs bare forwards) and the saving of the causal cut on the
CWE sample (cut extraction vs bare forwards over the full sentences), and checks that
those ways give the same states: when a check fails it exits 1, and so does this script.
Prints one table and writes it, with the ratios, to ``--json``
(default ``_build/bench.json``). Times are wall-clock on a shared machine:
compare within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STEPS = ("tokenize", "load", "extract", "metrics", "bootstrap")
HERE = Path(__file__).resolve().parent


def _record_extractions(recorded: list, forward: dict[str, float]) -> None:
    """Wrap the extraction the cache calls so that each call's model, requests and batching
    are appended to ``recorded`` (the extraction itself runs unchanged), and time every
    forward pass of the model inside it: ``forward["seconds"]`` adds up the wall time from
    the model's forward pre-hook to its forward hook (the model called on the padded batch,
    hidden states out), ``forward["batches"]`` counts the calls."""
    from layerwise.store import cached

    real = cached.extract
    timed: set[int] = set()

    def start(module, args, kwargs):
        forward["_start"] = time.perf_counter()

    def stop(module, args, kwargs, output):
        forward["seconds"] += time.perf_counter() - forward.pop("_start")
        forward["batches"] += 1

    def recording(lm, requests, **kwargs):
        requests = list(requests)
        recorded.append((lm, requests, kwargs.get("batch_size", 64), kwargs.get("max_tokens")))
        if id(lm) not in timed:  # loads the weights, as the extraction would
            lm.model.register_forward_pre_hook(start, with_kwargs=True)
            lm.model.register_forward_hook(stop, with_kwargs=True)
            timed.add(id(lm))
        return real(lm, requests, **kwargs)

    cached.extract = recording


def bare_forwards(recorded: list) -> tuple[float, int]:
    """Seconds of the bare forward passes of the recorded extractions, batched as the
    package batches them (length-sorted, the same size and token budget, causal inputs cut
    after their last read), and the number of batches. The weights are loaded first."""
    import numpy as np
    import torch

    from layerwise.extract.batched import _batches, _pad, cut_after_last_read, default_max_tokens

    for lm, *_ in recorded:
        lm.model  # noqa: B018 - load the weights outside the timing
    seconds, n_batches = 0.0, 0
    with torch.inference_mode():
        for lm, requests, batch_size, max_tokens in recorded:
            spec = lm.spec
            if spec.causal:
                requests = [cut_after_last_read(r) for r in requests]
            lengths = np.array([len(r.ids) for r in requests])
            budget = max_tokens or default_max_tokens(spec.device)
            for batch in _batches(lengths, batch_size, budget):
                ids, mask = _pad(requests, batch, lengths, spec.pad_id, spec.device)
                start = time.perf_counter()
                lm.model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
                seconds += time.perf_counter() - start
                n_batches += 1
    return seconds, n_batches


def _time_steps(profile: str, cache_dir: str, bare: bool = False) -> dict[str, float]:
    """One process's timings (see the module docstring)."""
    import torch

    from layerwise import data
    from layerwise.extract.requests import sentence_requests, word_requests
    from layerwise.measure.common import MeasureOptions
    from layerwise.measure.cwe import cwe_sentences, cwe_states
    from layerwise.measure.sentences import sentence_states
    from layerwise.measure.words import all_task_words, word_states
    from layerwise.pipeline.config import RunConfig, load_profile
    from layerwise.pipeline.tables import ROLE_TABLES, compute_table
    from layerwise.store.cache import Cache

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out: dict[str, float] = {}
    recorded: list = []
    forward = {"seconds": 0.0, "batches": 0}
    _record_extractions(recorded, forward)
    cfg = RunConfig(profile=profile, scale="reduced", cache_dir=cache_dir, device="cpu")
    start = time.perf_counter()
    models = load_profile(cfg, log=None)
    out["load"] = time.perf_counter() - start

    s = cfg.options()
    start = time.perf_counter()
    sentences = cwe_sentences(list(models.values()), s)
    words = all_task_words()

    stsb = data.sts_benchmark_sentences(data.load_sts_benchmark())
    for lm in models.values():
        for setting in ("bare", "wrapped"):
            word_requests(lm, words, setting)
        for setting in ("eos", "last", "mean"):
            sentence_requests(lm, stsb, setting)
    out["tokenize"] = time.perf_counter() - start

    start = time.perf_counter()
    for lm in models.values():
        cwe_states(lm, sentences, s)
        word_states(lm, words, ("bare", "wrapped", "eos"), s)
        for setting in ("eos", "last", "mean"):
            sentence_states(lm, stsb, setting, s)
    out["extract"] = time.perf_counter() - start
    # models whose weights this process read (at load for a new cache, which probes the
    # model for its spec; inside an extraction on a miss): none in a warm run
    out["weights_loaded"] = sum(lm.weights_loaded for lm in models.values())

    def tables(n_resamples: int) -> float:
        t = MeasureOptions(
            n_cwe=s.n_cwe, seed=s.seed, n_resamples=n_resamples, cache=Cache(cache_dir)
        )
        begin = time.perf_counter()
        done: dict = {}
        for name in ROLE_TABLES:  # the four measured tables of chapters 3-5
            done[name] = compute_table(name, models, t, done)
        return time.perf_counter() - begin

    out["metrics"] = tables(1)
    # as measured: negative when the difference is below the clock's noise (warm runs)
    out["bootstrap"] = tables(int(cfg.n_resamples)) - out["metrics"]
    out["extractions"] = len(recorded)
    if recorded:  # a cold run: the floor of the forward passes it made
        out["floor"], out["floor_batches"] = forward["seconds"], forward["batches"]
        if bare:
            out["bare_floor"], out["bare_batches"] = bare_forwards(recorded)
    return out


def _child(profile: str, cache_dir: str, result: str, bare: str) -> None:
    Path(result).write_text(json.dumps(_time_steps(profile, cache_dir, bare == "bare")))


def _run(
    profile: str, cache_dir: str, hf_home: Path | None, bare: bool = False
) -> dict[str, float]:
    """One child process; ``hf_home``: run it offline on that Hugging Face cache."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        result = handle.name
    env = dict(os.environ)
    if hf_home is not None:
        env |= {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, __file__, "--child", profile, cache_dir, result]
    cmd.append("bare" if bare else "timed")
    subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env)
    return json.loads(Path(result).read_text())


def _profiles(asked: list[str], rehearsal: Path | None) -> dict[str, tuple[str, Path | None]]:
    """Column name -> (profile, Hugging Face cache to run it on)."""
    if asked:  # "rehearsal": the paper profile on the rehearsal cache of --rehearsal
        if "rehearsal" in asked and rehearsal is None:
            raise SystemExit("--profile rehearsal needs --rehearsal HF_HOME (make rehearse)")
        return {p: ("paper", rehearsal) if p == "rehearsal" else (p, None) for p in asked}
    found: dict[str, tuple[str, Path | None]] = {"offline": ("offline", None)}
    from layerwise.models import hub_availability
    from layerwise.pipeline.profiles import resolve_profile

    if all(hub_availability(src) != "unavailable" for src in resolve_profile("paper").values()):
        found["paper"] = ("paper", None)
    if rehearsal is not None:
        if not (rehearsal / "hub").is_dir():
            raise SystemExit(f"{rehearsal} holds no rehearsal models: run `make rehearse` first")
        found["rehearsal"] = ("paper", rehearsal)
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--profile", action="append", default=[], help="offline, paper, tiny, rehearsal")
    p.add_argument("--json", type=Path, default=Path("_build") / "bench.json")
    p.add_argument("--skip-extraction", action="store_true", help="skip extraction_speed.py")
    p.add_argument(
        "--rehearsal",
        type=Path,
        help="also time the paper profile on this rehearsal Hugging Face cache (make rehearse)",
    )
    p.add_argument(
        "--bare-floor",
        action="store_true",
        help="also re-run the cold run's batches as bare forward passes (idle machine only)",
    )
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        _child(*args.child)
        return
    table: dict[str, dict[str, dict[str, float]]] = {}
    for column, (profile, hf_home) in _profiles(args.profile, args.rehearsal).items():
        cache_dir = tempfile.mkdtemp(prefix=f"bench-{column}-")
        table[column] = {
            "cold": _run(profile, cache_dir, hf_home, args.bare_floor),
            "warm": _run(profile, cache_dir, hf_home),
        }
    header = "step        " + "".join(
        f"{p + ' ' + w:>18s}" for p in table for w in ("cold", "warm")
    )
    print(header)
    negative = []
    for step in (*STEPS, "total"):
        cells = []
        for column, runs_ in table.items():
            for when in ("cold", "warm"):
                r = runs_[when]
                value = sum(r[k] for k in STEPS) if step == "total" else r[step]
                if value < 0:
                    negative.append(f"{step} ({column} {when}): {value:.2f} s")
                cells.append(f"{value:16.1f} s")
        print(f"{step:12s}" + "".join(cells))
    loaded = [f"{r[w]['weights_loaded']:18d}" for r in table.values() for w in ("cold", "warm")]
    print("weights read" + "".join(loaded) + "  (models)")
    if negative:
        print(
            "note: a negative time is a difference of two measured times that is below the "
            "clock's noise on this machine (the step cost about nothing), not a real cost: "
            + "; ".join(negative)
        )
    floors = {}
    for column, runs_ in table.items():
        cold = runs_["cold"]
        if cold.get("floor"):
            total = sum(cold[k] for k in STEPS)
            floors[column] = {
                "cold_total_s": total,
                "floor_s": cold["floor"],
                "overhead": total / cold["floor"],
                "batches": cold["floor_batches"],
                "extractions": cold["extractions"],
            }
            print(
                f"floor ({column}): forward passes {cold['floor']:.1f} s over "
                f"{cold['floor_batches']} batches; cold build {total:.1f} s = "
                f"{total / cold['floor']:.2f}x the floor (target <= 1.4x)"
            )
            if "bare_floor" in cold:
                floors[column]["bare_floor_s"] = cold["bare_floor"]
                print(f"  re-run as bare forward passes afterwards: {cold['bare_floor']:.1f} s")
    report: dict[str, object] = {"steps_seconds": table, "floor": floors}
    if not args.skip_extraction:
        tmp = Path(tempfile.mkdtemp()) / "extraction.json"
        cmd = [sys.executable, str(HERE / "extraction_speed.py"), "--json", str(tmp)]
        subprocess.run(cmd, check=True)
        report["extraction"] = json.loads(tmp.read_text())
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
