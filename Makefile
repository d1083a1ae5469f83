# Two commands do all the set-up: `make demo` and `make test`.
# The virtual environment is created on first use and refreshed when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint format sandbox benchmark clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m pipelines demo

test: $(STAMP)
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .
	$(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

sandbox: $(STAMP)
	$(PY) -m pipelines sandbox

benchmark: $(STAMP)
	$(PY) benchmarks/benchmark.py

clean:
	rm -rf $(VENV) fgs_demo .pytest_cache .ruff_cache *.egg-info
