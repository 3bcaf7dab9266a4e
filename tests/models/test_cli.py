"""The command line (layerwise.cli): bad input is one line on stderr and exit status 2,
before any model is loaded or anything written; an interruption (Ctrl-C, SIGTERM) is one
line saying what finished, exit status 130 or 143, nothing left running."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
import torch
from support import (
    assert_stopped_cleanly,
    interrupt,
    lock_held_elsewhere,
    lock_left_by_a_killed_run,
    pickled_weights,
)

from layerwise import cli


def test_the_command_line_prints_one_line_and_exits_2(tiny_folder, tmp_path, capsys):
    """Used to: ``python -m layerwise compare`` on a folder with a pickled
    pytorch_model.bin ended in an UnpicklingError traceback."""
    folder = tiny_folder(tmp_path / "model")
    pickled_weights(folder)
    argv = ["compare", str(folder), "--out", str(tmp_path / "out"), "--scale", "reduced"]
    argv += ["--device", "cpu", "--cache-dir", str(tmp_path / "cache")]
    capsys.readouterr()  # what saving the folder printed
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: model ")
    assert "pytorch_model.bin" in err and "Remedy" in err


def _unwritable(tmp_path: Path) -> Path:
    """A folder path that cannot be created, even by root: its parent is a file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return blocker / "inside"


def _no_model_loads(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a model was loaded before the checks")

    import layerwise.models.loading as models_loading

    monkeypatch.setattr(models_loading, "load_model", boom)  # load_profile imports it on use


def _cli(argv, capsys) -> tuple[int, str]:
    code = cli.main(argv)
    return code, capsys.readouterr().err


def test_cli_unwritable_out_exits_2_before_any_model(tmp_path, monkeypatch, capsys):
    _no_model_loads(monkeypatch)
    out = _unwritable(tmp_path)
    args = ["reproduce", "--profile", "tiny", "--cache-dir", str(tmp_path / "c")]
    code, err = _cli([*args, "--out", str(out)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: the results folder (--out)")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("*.safetensors"))


def test_cli_unwritable_cache_exits_2(tmp_path, monkeypatch, capsys):
    _no_model_loads(monkeypatch)
    bad = _unwritable(tmp_path)
    code, err = _cli(
        ["reproduce", "--profile", "tiny", "--cache-dir", str(bad), "--out", str(tmp_path)], capsys
    )
    assert code == 2 and "cache folder" in err and "--cache-dir" in err
    assert err.count("\n") == 1


def test_cli_cuda_without_cuda_exits_2(tmp_path, monkeypatch, capsys):
    _no_model_loads(monkeypatch)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code, err = _cli(
        ["reproduce", "--profile", "tiny", "--device", "cuda", "--out", str(tmp_path / "o")],
        capsys,
    )
    assert code == 2 and "no CUDA GPU" in err and "--device cpu" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_cli_batch_size_must_be_positive(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["reproduce", "--profile", "tiny", "--batch-size", bad])
    assert exit_.value.code == 2
    assert "positive integer" in capsys.readouterr().err


def test_good_option_values_are_read_into_their_types(monkeypatch, tmp_path):
    """The values a run takes reach its configuration canonical: sizes in accelerate's
    spelling (a byte count for B and TB), a GPU's index as text."""
    import layerwise.pipeline.reproduce as pipeline_reproduce

    seen = {}
    monkeypatch.setattr(pipeline_reproduce, "reproduce", lambda cfg: seen.update(cfg=cfg))
    argv = ["reproduce", "--profile", "tiny", "--out", str(tmp_path), "--device", "cuda:1"]
    argv += ["--device-map", "auto", "--max-memory", "0=70gib, cpu=1.5GB,disk=2TB"]
    assert cli.main([*argv, "--seed", "3", "--revision", "causal=607a30d"]) == 0
    cfg = seen["cfg"]
    assert cfg.max_memory == {"0": "70GiB", "cpu": "1.5GB", "disk": "2000000000000"}
    assert cfg.load_options()["max_memory"] == {0: "70GiB", "cpu": "1.5GB", "disk": 2 * 10**12}
    assert (cfg.device, cfg.seed, cfg.revisions) == ("cuda:1", 3, {"causal": "607a30d"})


@pytest.mark.parametrize("command", ["reproduce", "compare", "book"])
def test_cli_a_folder_another_run_holds_exits_2_naming_it(command, tmp_path, monkeypatch, capsys):
    """Two runs in one folder at once: before issue 25 the second went ahead (two ``book``
    builds: the second died with jupyter_client's ``ValueError: Invalid Signature``; two
    ``reproduce`` or ``compare`` runs overwrote each other's tables). Now the second stops
    before any model loads or any chapter runs: one line naming the holder's pid, rc 2."""
    _no_model_loads(monkeypatch)
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))  # build_book prepends to it
    out = tmp_path / "results"
    common = ["--scale", "reduced", "--device", "cpu", "--cache-dir", str(tmp_path / "c")]
    if command == "reproduce":
        held, argv = out / "tiny", ["reproduce", "--profile", "tiny", "--out", str(out)]
        what = "results folder (--out)"
    elif command == "compare":
        held, argv = out, ["compare", "tiny:gpt2", "tiny:bert", "--out", str(out)]
        what = "output folder (--out)"
    else:
        (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: intro\n")
        monkeypatch.chdir(tmp_path)
        held, argv = tmp_path / "_build", ["book", "--profile", "tiny", "--out", str(out)]
        what = "book's build folder"
    with lock_held_elsewhere(held) as holder:
        code, err = _cli([*argv, *common], capsys)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"error: the {what} {held} is in use")
    assert f"pid {holder.pid} on host" in err and "Remedy" in err
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").rglob("*.safetensors"))
    assert not (held / "provenance.json").exists() and not (held / "src").exists()


def test_cli_reproduce_takes_over_a_lock_left_by_a_killed_run(tmp_path, monkeypatch, capsys):
    """A run killed with SIGKILL leaves its lock file; the next run takes the lock over with
    a one-line note naming the ended process (then goes on: here it stops at the first
    model load, which the test refuses)."""
    _no_model_loads(monkeypatch)
    out = tmp_path / "results"
    dead = lock_left_by_a_killed_run(out / "tiny")
    argv = ["reproduce", "--profile", "tiny", "--out", str(out), "--device", "cpu"]
    with pytest.raises(AssertionError, match="a model was loaded"):
        cli.main([*argv, "--cache-dir", str(tmp_path / "c")])
    printed = capsys.readouterr().out
    assert f"note: took over the lock of the results folder (--out) {out / 'tiny'}" in printed
    assert f"left by pid {dead} on host" in printed and "no longer running" in printed
    assert not (out / "tiny" / ".layerwise.lock").exists()


# ------------------------------------------------------------------ interruptions
#: The tiny profile at reduced scale on the CPU: the quickest whole command.
TINY = ["--profile", "tiny", "--scale", "reduced", "--device", "cpu"]
#: Two tiny models, few sentences and resamples: the quickest sweep.
SWEEP = ["tiny:gpt2", "tiny:clip", "--scale", "reduced", "--device", "cpu"]
SWEEP += ["--n-cwe", "60", "--n-resamples", "10"]
needs_proc = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds the run's processes in /proc"
)


@needs_proc
def test_ctrl_c_while_reproduce_loads_ends_in_one_line_and_130(tmp_path):
    """Ctrl-C (SIGINT to the process) once ``reproduce`` has loaded a model: one line
    saying what finished and that the same command resumes, exit status 130. Used to: a
    ``KeyboardInterrupt`` traceback through the loader, exit status 1."""
    stopped = interrupt(
        ["reproduce", *TINY, "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")],
        r"^loaded tiny",
        signal.SIGINT,
    )
    assert_stopped_cleanly(
        stopped,
        signal.SIGINT,
        r"stopped while (loading the models|computing cwe_geometry); 0 of 9 tables written to "
        + re.escape(str(tmp_path / "o" / "tiny"))
        + ", every extraction finished is cached",
    )
    assert stopped.seconds < 20


@needs_proc
def test_sigterm_during_an_extraction_runs_its_cleanup(tmp_path):
    """SIGTERM while ``reproduce`` extracts states into its spill file (a temporary in the
    cache folder): the extraction's cleanup removes the file, one line, exit status 143.
    Used to: killed at once by the signal (status -15), without a word, the temporary
    left behind."""
    cache = tmp_path / "c"

    def spilling(pid: int) -> bool:
        return any(cache.glob(".layerwise-states-*"))

    stopped = interrupt(
        ["reproduce", *TINY, "--cache-dir", str(cache), "--out", str(tmp_path / "o")],
        spilling,
        signal.SIGTERM,
    )
    assert_stopped_cleanly(
        stopped,
        signal.SIGTERM,
        r"stopped while (computing \w+|running the extraction plan); \d of 9 tables .*",
    )
    assert not list(cache.glob(".layerwise-*")), "a temporary was left in the cache"


@needs_proc
def test_ctrl_c_at_a_terminal_stops_a_sweep_saying_how_many_models_finished(tmp_path):
    """Ctrl-C at a terminal (SIGINT to the whole process group) while ``compare`` measures
    its models one after another: one line counting the models finished, exit status 130.
    Used to: a ``KeyboardInterrupt`` traceback, exit status 1."""
    stopped = interrupt(
        ["compare", *SWEEP, "--cache-dir", str(tmp_path / "c"), "--out", str(tmp_path / "o")],
        r"^models:\s+0%",
        signal.SIGINT,
        to_group=True,
    )
    assert_stopped_cleanly(stopped, signal.SIGINT, r"[0-2] of 2 models finished and cached")
    assert stopped.seconds < 20
