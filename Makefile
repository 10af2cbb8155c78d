# The two quick-start commands of the README; `make plan` and `make test` do the same.
VENV ?= .venv
# The MLOps loop (mlops/) has its own virtualenv: kfp pins requests and urllib3 exactly.
VENV_MLOPS ?= .venv-mlops

$(VENV)/.installed: requirements.txt requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	touch $@

$(VENV_MLOPS)/.installed: requirements-mlops.txt requirements-mlops-dev.txt
	python3 -m venv $(VENV_MLOPS)
	$(VENV_MLOPS)/bin/pip install -q --upgrade pip
	$(VENV_MLOPS)/bin/pip install -q -r requirements-mlops-dev.txt
	touch $@

.PHONY: plan test lint
plan: $(VENV)/.installed
	$(VENV)/bin/python -m automation plan --stack lab

test: $(VENV)/.installed $(VENV_MLOPS)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest
	$(VENV_MLOPS)/bin/python -m pytest tests/mlops --confcutdir=tests/mlops

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
