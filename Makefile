# The two quick-start commands of the README; `make plan` and `make test` do the same.
VENV ?= .venv

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

.PHONY: plan test lint
plan: $(VENV)/.installed
	$(VENV)/bin/python -m automation plan --stack lab

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
