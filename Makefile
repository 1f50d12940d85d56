# Two entry points (see README): `make demo` and `make test`. Everything lives in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Jupyter refuses to run as root unless told to.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: demo test setup js clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Editable install. It builds the front ends in js/ with npm (the labextension for
# JupyterLab / Notebook 7 and the classic nbextension) and copies them into the venv,
# so re-run after JS edits (or `make js`).
setup: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[test]"

# Rebuild the front ends into the venv without reinstalling the Python package.
js:
	cd js && PATH="$(abspath $(BIN)):$$PATH" npm run build
	cp -r nbagg/labextension/. $(VENV)/share/jupyter/labextensions/nbagg/
	cp -r nbagg/nbextension/. $(VENV)/share/jupyter/nbextensions/nbagg/

# Set everything up and open notebooks/demo.ipynb in JupyterLab on 127.0.0.1
# (FRONTEND=notebook for Notebook 7, FRONTEND=nbclassic for the classic Notebook).
FRONTEND ?= lab
demo: setup
	$(BIN)/jupyter $(FRONTEND) --ip=127.0.0.1 --ServerApp.root_dir=notebooks $(ROOT_FLAG) notebooks/demo.ipynb

# Set everything up and run every test (unit, kernel, browser) plus the linters.
test: setup
	bash .ci/ensure-chromium
	$(BIN)/ruff check nbagg tests $(wildcard benchmarks)
	$(BIN)/ruff format --check nbagg tests $(wildcard benchmarks)
	npm --prefix js run lint
	npm --prefix js test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
