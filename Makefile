# Atelier: two commands. `make demo` runs the product; `make test` runs the suite.
# Python 3.11: `python3.11` if there is one, else `python3` (checked below).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
STAMP := $(VENV)/.requirements-installed
DEV_STAMP := $(VENV)/.requirements-dev-installed

.PHONY: demo test venv dev-venv lint clean

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || \
		{ echo "Python 3.11 is required (found: $(PYTHON)); set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Reinstall only when a requirements file changes: the runtime for the demo, the runtime plus
# the test and lint tools for `make test` and `make lint`.
$(STAMP): requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

$(DEV_STAMP): requirements-dev.txt requirements.txt | $(PY)
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP) $(DEV_STAMP)

venv: $(STAMP)

dev-venv: $(DEV_STAMP)

demo: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py build_tiny_model
	# WEB_PORT: honcho gives each process its own PORT; emails and settings need the web one.
	PORT=$(PORT) WEB_PORT=$(PORT) $(VENV)/bin/honcho -f Procfile start

test: dev-venv
	$(PY) -m pytest

# ruff (lint and format check), mypy (the engines strict, the product with django-stubs; see
# pyproject.toml) and the import contracts (.importlinter).
lint: dev-venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

clean:
	rm -rf var/broker var/test-db.sqlite3
