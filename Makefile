# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
# pytest workers of the main suite (pytest-xdist); the compatibility runs share the cores.
WORKERS ?= 2
VENV := .venv
BIN := $(VENV)/bin
# dbt-core 1.12 depends on a package that downloads a binary at install time;
# override DBT_CORE to test another supported release (1.10-1.12).
DBT_CORE ?= dbt-core>=1.10,<1.12
export DO_NOT_TRACK := 1
# Compiled bytecode, kept inside the virtual environment (not beside the sources) even where
# the environment asks Python not to write it: each fresh `orc`, `dbt` or pytest process
# would otherwise compile dbt-core and its dependencies again, about 1.4 s each.
export PYTHONPYCACHEPREFIX := $(CURDIR)/$(VENV)/pycache
export PYTHONDONTWRITEBYTECODE :=
# setuptools says on every editable install that it is one; nothing else is silenced.
INSTALL := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install -q --no-compile

.PHONY: demo test checked-pytest lint typecheck pytest compat clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(INSTALL) -e '.[duckdb]' '$(DBT_CORE)'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(INSTALL) -e '.[duckdb,postgres,s3,dev]' '$(DBT_CORE)'
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	scripts/demo.sh

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed
	scripts/ensure-chromium.sh >/dev/null
	PATH="$(CURDIR)/$(BIN):$$PATH" scripts/with-postgres.sh scripts/with-moto.sh \
		scripts/with-gcs.sh scripts/with-azurite.sh $(BIN)/pytest -q -n $(WORKERS) \
		--dist worksteal --durations=30 $(PYTEST_ARGS)

# The compatibility runs (other Python and dbt-core releases) start at once and share the
# cores with the checks and the main suite, which run one after the other.
test:
	$(MAKE) --no-print-directory -j2 checked-pytest compat

checked-pytest: $(VENV)/.dev-installed
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory typecheck
	$(MAKE) --no-print-directory pytest

compat:
	scripts/compat-all.sh

clean:
	rm -rf $(VENV) .venv-compat .pytest_cache .mypy_cache .ruff_cache
