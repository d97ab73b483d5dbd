# The two commands: `make run` (serve the admin and API) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run test lint bench worker beat clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

run: install
	VENV=$(VENV) HOST=$(HOST) PORT=$(PORT) ./scripts/run.sh

test: install
	DJANGO_DEBUG=1 $(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	DJANGO_DEBUG=1 $(BIN)/python bench/ingest.py
	DJANGO_DEBUG=1 $(BIN)/python bench/ingest_http.py
	DJANGO_DEBUG=1 $(BIN)/python bench/segments.py
	DJANGO_DEBUG=1 $(BIN)/python bench/analytics.py
	DJANGO_DEBUG=1 $(BIN)/python bench/flows.py
	DJANGO_DEBUG=1 $(BIN)/python bench/export.py

worker: install
	$(BIN)/celery -A cdp worker --loglevel=INFO

beat: install
	$(BIN)/celery -A cdp beat --loglevel=INFO

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
