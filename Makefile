# trendcast: `make demo` runs the pipeline on the embedded default, `make test` runs the test suite.
# Both create the virtual environment on first use from pyproject.toml + constraints.txt (exact versions).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: install demo test lint clean constraints bench airflow

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade "pip==26.3"
	$(BIN)/pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

# make demo CORRUPT=negative_sales: corrupt the feature mart after the clean gate and watch the gate stop it.
demo: install
	$(BIN)/trendcast demo $(if $(CORRUPT),--corrupt $(CORRUPT))

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

# Local Airflow UI on http://localhost:8080 with this repo's DAGs and plugins (user admin, password printed).
airflow: install
	$(BIN)/trendcast airflow up

lint: install
	$(BIN)/ruff check ml tests bench dags plugins
	$(BIN)/ruff format --check ml tests bench dags plugins

bench: install
	$(BIN)/python bench/pipeline.py

clean:
	$(BIN)/trendcast clean --yes || rm -rf .trendcast

# Refresh constraints.txt after changing dependencies in pyproject.toml (needs a fresh venv).
constraints:
	rm -rf /tmp/trendcast-constraints-venv
	$(PYTHON) -m venv /tmp/trendcast-constraints-venv
	/tmp/trendcast-constraints-venv/bin/pip install --quiet --upgrade "pip==26.3"
	/tmp/trendcast-constraints-venv/bin/pip install --quiet -e ".[dev]" "torch==2.13.0"
	{ echo "# Exact versions that resolve together offline on Python 3.11 (pip freeze of a clean install)."; \
	  echo "# Regenerate: make constraints. torch is the CPU build that lies on the target machines."; \
	  /tmp/trendcast-constraints-venv/bin/pip freeze --exclude-editable | sed 's/^torch==2.13.0+cpu/torch==2.13.0/'; \
	} > constraints.txt
