# Ratchet — every command a workflow runs is a target here, so it runs the same locally.
# `make help` lists them.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
# uv from PATH if present, else a private copy bootstrapped with pip into .uv/.
UV ?= $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)

# User values (TAG, VERSION, BASE, GRID, ...) are text, never code. A value given on the
# command line is kept as typed (make expands nothing in it) and exported like one from the
# environment; recipes read every such value from the environment ("$${TAG}"), so no value
# is pasted into a shell line. A tag name may hold backticks or $(...).
$(foreach v,$(.VARIABLES),$(if $(filter command line,$(origin $(v))),$(eval override $(v) := $$(value $(v)))$(eval export $(v))))

# Pipeline commands (ratchet, dvc) come from the project's environment.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
# No telemetry from DVC or DVCLive.
export DVC_NO_ANALYTICS := 1
export DO_NOT_TRACK := 1
# Material for MkDocs' notice about a future MkDocs 2 (we pin MkDocs 1).
export NO_MKDOCS_2_WARNING := 1
# Compile bytecode at install: imports stay fast even where PYTHONDONTWRITEBYTECODE is set.
export UV_COMPILE_BYTECODE := 1
# Use the machine's Python; never download one.
export UV_PYTHON_DOWNLOADS := never

# The revision a change is compared with (a pull request's base branch or commit).
BASE ?= origin/main
REPORT_DIR := reports/pr
MODEL_FILE ?=

# Sweeps: experiments run at a time, and an optional grid instead of params.yaml's
# sweep.grids, e.g. GRID='train.max_depth=3,6 train.learning_rate=0.03,0.1'.
JOBS ?= 2
GRID ?=
# `make exps`: sort the table by this metric's VALIDATION value (default: gate.primary),
# best first; ORDER (asc or desc) is needed only for a metric without a rule in gate.rules.
SORT ?=
ORDER ?=
export BASE MODEL_FILE JOBS GRID SORT ORDER

.PHONY: help setup setup-spark setup-docs docs docs-examples docs-serve repro pull push pr-report gate pr-comment model-check model-smoke model-shadow model-release serve score-spark image image-push monitor-batch drift drift-issue retrain-branch retrain-pr refresh-data sweep exps exp-best exp-matrix exp-run exp-pull exp-report exp-push bench bench-spark test lint format clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-11s\033[0m %s\n", $$1, $$2}'

.uv/bin/uv:
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# The light install (pipeline, registry, service) and, for `--engine spark` and the tests,
# the same plus PySpark (a 450 MB download). --inexact: neither removes what the other added.
$(VENV)/.synced: uv.lock pyproject.toml | $(UV)
	$(UV) sync --frozen --inexact --extra serve --python $(PYTHON)
	@touch $@

$(VENV)/.synced-spark: $(VENV)/.synced
	$(UV) sync --frozen --inexact --extra serve --extra spark --python $(PYTHON)
	@touch $@

setup: $(VENV)/.synced ## Create .venv from uv.lock (exact pins) and install ratchet
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "setup: not a git checkout (clone the repository)" >&2; exit 1; }

setup-spark: setup $(VENV)/.synced-spark ## setup, plus PySpark for --engine spark (needs Java 17+)

$(VENV)/.synced-docs: $(VENV)/.synced
	$(UV) sync --frozen --inexact --extra serve --group docs --python $(PYTHON)
	@touch $@

setup-docs: setup $(VENV)/.synced-docs ## setup, plus MkDocs and its Material theme (make docs)

docs: setup-docs ## Build the documentation site into site/ (strict: a broken link fails)
	mkdocs build --strict

docs-examples: setup ## Regenerate the outputs the docs show by running the real commands (minutes)
	python -m docsgen.examples

docs-serve: setup-docs ## Preview the documentation site at http://127.0.0.1:8001
	mkdocs serve --dev-addr 127.0.0.1:8001

repro: setup ## Set up, then run the pipeline (dvc repro)
	dvc repro

pull: setup ## Fetch data and models from the DVC remote, if one is configured
	@if dvc remote default >/dev/null 2>&1; then dvc pull --allow-missing; \
	else echo "pull: no default DVC remote; dvc repro rebuilds what is missing"; fi

push: setup ## Send data and models to the DVC remote, if one is configured
	@if dvc remote default >/dev/null 2>&1; then dvc push; \
	else echo "push: no default DVC remote; nothing to push"; fi

pr-report: repro ## Report this change vs BASE (default origin/main) in reports/pr/
	ratchet report --base "$${BASE}" --output $(REPORT_DIR)/report.md --summary $(REPORT_DIR)/summary.md

gate: repro ## Pass or fail this change under BASE's gate rules (fails: exit 2, as any make error)
	ratchet gate --base "$${BASE}"

# CI only: needs CML (npm install -g @dvcorg/cml) and REPO_TOKEN. The report embeds the
# plots only when params report.publish_images is true; CML uploads what it embeds.
pr-comment: ## Post or update the one sticky PR comment (CML) with reports/pr/report.md
	cml comment update --target=pr --watermark-title="ratchet report" $(REPORT_DIR)/report.md

# Model registry (see README "Model versions"). TAG is a registry tag, VERSION vX.Y.Z.
model-check: setup ## Check that TAG is a valid GTO registry tag and say what it means
	gto check-ref "$${TAG}"
	ratchet model tag-info "$${TAG}"

model-smoke: setup ## Load VERSION from the registry and score fresh sample rows with it
	ratchet model smoke --version "$${VERSION}"

SHADOW_DIR := reports/shadow
BASELINE ?= prod
INPUT ?=
SUMMARY ?=
export BASELINE INPUT SUMMARY
model-shadow: setup ## Compare VERSION with BASELINE (default prod) on INPUT (default: VERSION's held-out rows); SUMMARY=FILE appends the report
	@mkdir -p $(SHADOW_DIR)
	input=(); if [ -n "$${INPUT}" ]; then input=(--input "$${INPUT}"); fi; \
	ratchet shadow --candidate "$${VERSION}" --baseline "$${BASELINE}" "$${input[@]}" \
		--output $(SHADOW_DIR)/shadow.md --json $(SHADOW_DIR)/shadow.json
	if [ -n "$${SUMMARY}" ]; then cat $(SHADOW_DIR)/shadow.md >> "$${SUMMARY}"; fi

# CI only: needs the GitHub CLI (gh) and GH_TOKEN.
model-release: setup ## Publish a GitHub release for TAG with VERSION's model card
	ratchet model card "$${VERSION}" -o reports/model-card.md
	files=(); if [ -f "$${MODEL_FILE}" ]; then files=("$${MODEL_FILE}"); fi; \
	gh release create "$${TAG}" --verify-tag --title "$${TAG}" --notes-file reports/model-card.md "$${files[@]}"

# Serving (see README "Serving"). STAGE or VERSION pick the model; values are read from
# the environment in the recipes, never pasted into them as make text.
serve: setup ## Run the REST service with the model of STAGE (default prod) or VERSION
	@if [ -n "$${VERSION:-}" ]; then ratchet serve --version "$${VERSION}"; \
	else ratchet serve --stage "$${STAGE:-prod}"; fi

# Scheduled scoring (see README "Batch scoring on Spark"): INPUT and OUTPUT are paths
# (Parquet/CSV file, folder or glob; local, s3a://, ...) or catalog tables. The model is
# STAGE's (default prod), VERSION's or MODEL_FILE; MASTER defaults to local[*].
OUTPUT ?=
export OUTPUT
score-spark: setup-spark ## Score INPUT into OUTPUT on Spark with STAGE's model (default prod), VERSION or MODEL_FILE
	@set -euo pipefail; \
	args=(--input "$${INPUT:?set INPUT to a path or table}" --output "$${OUTPUT:?set OUTPUT to a path or table}"); \
	if [ -n "$${MODEL_FILE:-}" ]; then args+=(--model "$${MODEL_FILE}"); \
	elif [ -n "$${VERSION:-}" ]; then args+=(--version "$${VERSION}"); \
	else args+=(--stage "$${STAGE:-prod}"); fi; \
	if [ -n "$${MASTER:-}" ]; then args+=(--master "$${MASTER}"); fi; \
	if [ -n "$${PARTITIONS:-}" ]; then args+=(--partitions "$${PARTITIONS}"); fi; \
	if [ -n "$${PARTITION_BY:-}" ]; then args+=(--partition-by "$${PARTITION_BY}"); fi; \
	if [ -n "$${QUARANTINE:-}" ]; then args+=(--quarantine "$${QUARANTINE}"); fi; \
	set -x; ratchet score --engine spark "$${args[@]}"

# Needs Docker. The context must hold the registry's tags and the model in the DVC cache.
image: ## Build the service image with STAGE's (or VERSION's) model; tags IMAGE:VERSION, IMAGE:STAGE
	@image=$$(printf '%s' "$${IMAGE:-ratchet-serve}" | tr '[:upper:]' '[:lower:]'); \
	stage="$${STAGE:-}"; if [ -z "$$stage$${VERSION:-}" ]; then stage=prod; fi; \
	tags=(); for t in $${VERSION:-} $$stage; do tags+=(-t "$$image:$$t"); done; \
	set -x; docker build --build-arg STAGE="$$stage" --build-arg VERSION="$${VERSION:-}" "$${tags[@]}" .

# CI only: needs GH_TOKEN with packages: write (GITHUB_ACTOR is set by GitHub Actions).
image-push: ## Log in to IMAGE's registry with GH_TOKEN and push IMAGE:VERSION and IMAGE:STAGE
	@image=$$(printf '%s' "$${IMAGE:?set IMAGE, e.g. ghcr.io/owner/repo}" | tr '[:upper:]' '[:lower:]'); \
	printf '%s' "$${GH_TOKEN:?set GH_TOKEN}" | \
		docker login "$${image%%/*}" --username "$${GITHUB_ACTOR:?set GITHUB_ACTOR}" --password-stdin && \
	for t in $${VERSION:-} $${STAGE:-}; do docker push "$$image:$$t" || exit 1; done

# Monitoring and retraining (see README "Monitoring and retraining").
DRIFT_DIR := reports/drift
monitor-batch: setup ## The batch at params monitor.current; a project with the sample stage writes a demo one (DRIFT=1: shifted)
	@set -e; current=$$(python -c 'import yaml; print(yaml.safe_load(open("params.yaml"))["monitor"]["current"])'); \
	if dvc stage list --name-only 2>/dev/null | grep -qx sample; then \
		drift=(); if [ "$${DRIFT:-}" = 1 ]; then drift=(--drift); fi; \
		set -x; ratchet sample --rows 5000 --seed "$${SEED:-7}" "$${drift[@]}" --output "$$current"; \
	elif [ -f "$$current" ]; then echo "monitor-batch: checking $$current (params monitor.current)"; \
	else echo "monitor-batch: $$current not found: point params monitor.current at a batch of your data" >&2; exit 2; fi

drift: setup ## Drift report of params monitor.current vs the prod model's training data (fails on drift)
	ratchet drift --stage "$${STAGE:-prod}" --output-dir $(DRIFT_DIR) --summary-md $(DRIFT_DIR)/summary.md

# CI only: need the GitHub CLI (gh) and GH_TOKEN. A repository without the "drift" label
# gets it first (an issue cannot be created with a label that does not exist); a failing
# gh call stops the recipe rather than passing on an empty answer.
drift-issue: ## Open, or comment on, the one open "drift" issue with the drift summary (creates the label)
	@set -euo pipefail; \
	labels=$$(gh label list --search drift --json name --jq '.[].name'); \
	if ! grep -qx drift <<< "$$labels"; then \
		gh label create drift --color D93F0B --description "Data drift found by the monitor workflow"; fi; \
	number=$$(gh issue list --label drift --state open --json number --jq '.[0].number'); \
	if [ -n "$$number" ]; then gh issue comment "$$number" --body-file $(DRIFT_DIR)/summary.md; \
	else gh issue create --title "Data drift detected" --label drift --body-file $(DRIFT_DIR)/summary.md; fi

# The retraining workflow's steps: commit the new results on a branch, report and gate them
# against the commit they branched from (make pr-report gate BASE=...), then open the pull
# request with the report as its description.
retrain-branch: ## CI: commit the retrained results on a new branch retrain/DATE (none if unchanged)
	@set -euo pipefail; \
	if git diff --quiet; then echo "retrain: results unchanged, no pull request"; exit 0; fi; \
	branch="retrain/$$(date -u +%Y%m%d-%H%M%S)"; \
	git switch -c "$$branch"; git add --update; git commit -q -m "Retrain on refreshed data"; \
	echo "retrain: committed the new results on $$branch"

# CI only: needs the GitHub CLI (gh), GH_TOKEN and GITHUB_REPOSITORY. GATE is make gate's
# verdict: when it is fail, the pull request is still opened, its title marked.
retrain-pr: ## CI: push the retrain/ branch and open its pull request (GATE=pass|fail, BASE_BRANCH)
	@set -euo pipefail; \
	branch=$$(git branch --show-current); \
	case "$$branch" in retrain/*) ;; \
		*) echo "retrain-pr: on '$$branch', not a retrain/ branch (make retrain-branch)" >&2; exit 1 ;; esac; \
	case "$${GATE:-}" in \
		pass) title="Retrain on refreshed data" ;; \
		fail) title="[gate fails] Retrain on refreshed data" ;; \
		*) echo "retrain-pr: set GATE to pass or fail (the result of make gate)" >&2; exit 1 ;; esac; \
	base=(); if [ -n "$${BASE_BRANCH:-}" ]; then base=(--base "$${BASE_BRANCH}"); fi; \
	git push "https://x-access-token:$${GH_TOKEN}@github.com/$${GITHUB_REPOSITORY}.git" "$$branch"; \
	gh pr create "$${base[@]}" --head "$$branch" --title "$$title" --body-file $(REPORT_DIR)/report.md

refresh-data: setup ## Refresh imported data (dvc update of every import); the sample needs none
	@imports=$$(git ls-files '*.dvc' | xargs -r grep -l '^deps:' || true); \
	if [ -n "$$imports" ]; then dvc update $$imports; else echo "refresh-data: no DVC imports to update"; fi

sweep: setup ## Queue the sweep grids (params.yaml or GRID=...), run them JOBS at a time, rank them
	set -f -o pipefail; ratchet exp grid --format dvc $${GRID} | \
		while read -r args; do dvc exp run --queue $$args || exit 1; done
	dvc exp run --run-all --jobs "$${JOBS}"
	ratchet exp best

exps: setup ## Table of this commit's experiments: what differs, best validation SORT first (default gate.primary)
	@sort="$$(ratchet exp sort $${SORT:+--metric "$${SORT}"} $${ORDER:+--order "$${ORDER}"})" || exit; \
	dvc exp show --only-changed --sort-by "$${sort% *}" --sort-order "$${sort##* }" --drop 'Created|State|Executor|train_.*|features|valid\.rows|valid\.folds|models/.*|data/.*'

exp-best: setup ## Rank this commit's experiments on validation under the gate's rules (fails if one failed)
	ratchet exp best

# The sweep workflow's steps. Values arrive as environment variables, never as make text:
# GRID and PARAMS are split into words (globbing off) and checked by `ratchet exp grid`;
# EXP_GIT_REMOTE may carry a token, so these recipes are not echoed.
exp-matrix: setup ## CI: the sweep grids (or GRID) as a GitHub Actions matrix, names PREFIX-N
	@set -f; ratchet exp grid --format matrix --prefix "$${PREFIX:-grid}" $${GRID}

exp-run: setup ## CI: run one experiment named EXP in the workspace with PARAMS='k=v k=v'
	@set -f; args=(); for p in $${PARAMS}; do args+=(-S "$$p"); done; \
	dvc exp run --name "$${EXP:?set EXP to an experiment name}" "$${args[@]}"

exp-pull: setup ## CI: fetch this commit's experiments (git refs only) from EXP_GIT_REMOTE
	@dvc exp pull --no-cache "$${EXP_GIT_REMOTE:-origin}"

exp-report: setup ## CI: rank the experiments PREFIX-N of MATRIX into reports/sweep/summary.md
	ratchet exp best --prefix "$${PREFIX:-grid}-" --matrix "$${MATRIX:-reports/sweep/matrix.json}" \
		--logs reports/sweep/logs --output reports/sweep/summary.md

exp-push: setup ## Push experiment EXP to the git remote (and its outputs, if a DVC remote is set)
	@if dvc remote default >/dev/null 2>&1; then cache=; else cache=--no-cache; fi; \
	dvc exp push $$cache "$${EXP_GIT_REMOTE:-origin}" "$${EXP:?set EXP to an experiment name}"

# Benchmarks (docs/benchmarks.md): table sizes, and runs per number (the median is kept).
# The committed page: make bench BENCH_ROWS='10000 100000 1000000'; HUGE=1 adds 10M rows.
BENCH_ROWS ?= 10000 100000
BENCH_REPEATS ?= 3
export BENCH_ROWS BENCH_REPEATS
bench: repro ## Benchmarks: pipeline vs bare script, no-op repro, validate/score/drift, serve and score before/after (BENCH_ROWS, HUGE=1)
	set -f; huge=(); if [ "$${HUGE:-}" = 1 ]; then huge=(--huge); fi; \
	python -m benchmarks --rows $${BENCH_ROWS} --repeats "$${BENCH_REPEATS}" "$${huge[@]}"
	python -m benchmarks.serve --model models/model.skops
	python -m benchmarks.score --model models/model.skops --rows 1000000 --repeats "$${BENCH_REPEATS}"

# Spark against pandas for `ratchet score` (docs/benchmarks.md "Spark"): 1M and 10M rows,
# local[1] and local[2]; the 10M runs once (BENCH_SPARK_HUGE_REPEATS), the rest BENCH_REPEATS.
BENCH_SPARK_ROWS ?= 1000000 10000000
BENCH_SPARK_HUGE_REPEATS ?= 1
export BENCH_SPARK_ROWS BENCH_SPARK_HUGE_REPEATS
bench-spark: setup-spark repro ## Benchmark: score --engine spark vs pandas, rows/s and peak memory (BENCH_SPARK_ROWS)
	set -f; python -m benchmarks.spark --rows $${BENCH_SPARK_ROWS} --repeats "$${BENCH_REPEATS}" \
		--huge-repeats "$${BENCH_SPARK_HUGE_REPEATS}"

test: setup-spark setup-docs ## Set up (with PySpark), then run the test suite
	pytest

lint: setup ## Lint and check formatting, check the import contracts; audit the workflows
	ruff check .
	ruff format --check .
	lint-imports
	zizmor --offline .github/workflows
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

format: setup ## Fix lint and formatting in place
	ruff check --fix .
	ruff format .

clean: ## Remove the environment and tool caches (keeps data and the DVC cache)
	rm -rf $(VENV) .uv .pytest_cache .ruff_cache .import_linter_cache
