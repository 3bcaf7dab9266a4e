"""Interruptions (layerwise.pipeline.interrupts): SIGTERM raises like Ctrl-C, the
innermost stage's statement of what finished is kept, a held signal waits for its block,
and a stopped process group is gone. The whole commands are interrupted in
tests/models/test_cli.py, tests/slow/test_sweep.py and tests/book/test_book.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from layerwise.pipeline.interrupts import (
    Interrupted,
    held_signals,
    stop_group,
    stop_on_signals,
)


def test_the_line_names_the_signal_what_finished_and_the_remedy():
    inner = Interrupted.after(Interrupted(signal.SIGTERM), "1 of 2 models finished and cached")
    outer = Interrupted.after(inner, "stopped while measuring 2 models")
    assert (outer.signum, outer.exit_code) == (signal.SIGTERM, 143)
    assert outer.line() == (
        "interrupted by SIGTERM: 1 of 2 models finished and cached; "
        "re-run the same command to resume"
    )
    plain = Interrupted.after(KeyboardInterrupt(), "")  # Python's own Ctrl-C
    assert plain.exit_code == 130
    assert plain.line() == "interrupted by Ctrl-C (SIGINT): re-run the same command to resume"


def test_sigterm_raises_in_the_main_thread_and_the_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM)
    restore = stop_on_signals()
    try:
        with pytest.raises(Interrupted) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before this ends
        assert stopped.value.signum == signal.SIGTERM
    finally:
        restore()
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_held_signal_waits_for_its_block_and_a_second_one_does_not():
    restore = stop_on_signals()
    try:
        with held_signals() as held:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)  # handled here: held, not raised
            assert held == [signal.SIGINT]
            with pytest.raises(Interrupted):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
    finally:
        restore()


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups")
def test_a_stopped_group_is_gone_even_when_it_ignores_sigterm():
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    time.sleep(0.5)  # its handler set
    start = time.monotonic()
    stop_group(child.pid, grace_s=0.5, reap=child.poll)
    assert child.wait(timeout=10) == -signal.SIGKILL
    assert time.monotonic() - start < 5
