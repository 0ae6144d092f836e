# Ratchet — every command a workflow runs is a target here, so it runs the same locally.
# `make help` lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
# uv from PATH if present, else a private copy bootstrapped with pip into .uv/.
UV ?= $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)

# Pipeline commands (ratchet, dvc) come from the project's environment.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
# No telemetry from DVC or DVCLive.
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
# Compile bytecode at install: imports stay fast even where PYTHONDONTWRITEBYTECODE is set.
export UV_COMPILE_BYTECODE := 1
# Use the machine's Python; never download one.
export UV_PYTHON_DOWNLOADS := never

.PHONY: help setup repro test lint format clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}'

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced ## Create .venv from uv.lock (exact pins) and install ratchet
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "setup: not a git checkout (clone the repository)" >&2; exit 1; }

repro: setup ## Set up, then run the pipeline (dvc repro)
	dvc repro

test: setup ## Set up, then run the test suite
	pytest

lint: setup ## Lint and check formatting
	ruff check .
	ruff format --check .

format: setup ## Fix lint and formatting in place
	ruff check --fix .
	ruff format .

clean: ## Remove the environment and tool caches (keeps data and the DVC cache)
	rm -rf $(VENV) .uv .pytest_cache .ruff_cache
