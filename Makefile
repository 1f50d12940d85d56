# Two entry points (see README): `make demo` and `make test`. Everything lives in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Jupyter refuses to run as root unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: demo test setup lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Editable install; the nbextension files are copied into the venv, so re-run after JS edits.
setup: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"

# Set everything up and open notebooks/ in the classic Notebook on 127.0.0.1.
demo: setup
	$(BIN)/jupyter nbclassic --ip=127.0.0.1 --notebook-dir=notebooks $(ROOT_FLAG) notebooks/demo.ipynb

# Set everything up and run every test (unit, kernel, browser) plus the linters.
test: setup
	bash .ci/ensure-chromium
	$(BIN)/ruff check nbagg tests $(wildcard benchmarks)
	$(BIN)/ruff format --check nbagg tests $(wildcard benchmarks)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
