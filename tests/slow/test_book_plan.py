"""The book build's extraction plan (layerwise.pipeline.book_plan) on the tiny profile,
reduced: it covers what chapters 3-7 compute, and runs every needed input once, unpadded."""

from __future__ import annotations

from collections import defaultdict

from layerwise.extract import batched
from layerwise.measure.multi import compare_tables
from layerwise.pipeline.book_plan import run_book_plan
from layerwise.pipeline.compare import load_extras
from layerwise.pipeline.config import RunConfig, load_profile
from layerwise.pipeline.reproduce import reproduce


def test_after_the_book_plan_the_chapters_tables_extract_nothing(tmp_path, monkeypatch):
    calls: dict[str, list[tuple[int, ...]]] = defaultdict(list)
    widths: list[tuple[int, int]] = []
    real_check, real_pad = batched.check_window, batched._pad
    current = {}

    def check_window(lm, requests):
        current["model"] = lm.spec.name
        return real_check(lm, requests)

    def pad(requests, batch, lengths, pad_id, device):
        widths.append((int(lengths[batch].max()), int(lengths[batch].min())))
        calls[current["model"]] += [requests[i].ids for i in batch]
        return real_pad(requests, batch, lengths, pad_id, device)

    monkeypatch.setattr(batched, "check_window", check_window)
    monkeypatch.setattr(batched, "_pad", pad)
    cfg = RunConfig(
        profile="tiny",
        scale="reduced",
        results_dir=str(tmp_path / "results"),
        cache_dir=str(tmp_path / "cache"),
    )
    written = run_book_plan(cfg, log=None)
    assert written > 10
    planned = {name: list(ids) for name, ids in calls.items()}
    assert len(planned) == 3  # the profile's two models and chapter 7's extra
    assert all(width == shortest for width, shortest in widths)  # no padding
    for name, inputs in planned.items():  # no input twice, no causal prefix run alone
        assert len(set(inputs)) == len(inputs), name
        longest = sorted(set(inputs), key=len, reverse=True)
        for i, ids in enumerate(longest):
            extends = [other for other in longest[:i] if other[: len(ids)] == ids]
            assert not extends or name == "tiny BERT (random)", (name, ids)
    # chapters 3-6 (the reproduction's tables) and chapter 7 find every state cached
    reproduce(cfg, log=lambda message: None)
    s = cfg.options()
    extras, _ = load_extras(cfg, log=None)
    compare_tables([*load_profile(cfg, log=None).values(), *extras.values()], s)
    assert {name: len(ids) for name, ids in calls.items()} == {
        name: len(ids) for name, ids in planned.items()
    }
    assert run_book_plan(cfg, log=None) == 0  # all cached: nothing to run
