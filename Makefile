# docflow: `make demo` runs the pipeline locally over examples/; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup demo test bench clean help

help:
	@echo "make setup   create .venv with everything docflow needs (fast when nothing changed)"
	@echo "make demo    process examples/ in the local cloud; results in docflow-out/"
	@echo "make test    run the test suite"
	@echo "make bench   run the benchmarks (uses ../shared/corpus when present)"

setup: $(INSTALLED)

# Reinstalls only when the project's dependencies change.
$(INSTALLED): pyproject.toml scripts/system-packages.sh
	@bash scripts/system-packages.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -qq --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install -qq --disable-pip-version-check -e '.[dev]'
	@touch $@

demo: setup
	$(BIN)/docflow run examples/ --out docflow-out

test: setup
	$(BIN)/python -m pytest

bench: setup
	$(BIN)/python -m pytest benchmarks/ -s --benchmark-only --benchmark-columns=min,median,max,rounds

clean:
	rm -rf $(VENV) docflow-out build cdk.out .pytest_cache
