# 市金融党建联盟平台 — the alliance platform. `make run` starts it, `make test` checks it.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PY := .venv/bin/python
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.cache/alliance/tools/bin/uv)
ROLE ?= secretariat
PYTEST_ARGS ?=

.PHONY: help install run demo bench-city chaos test test-unit lint token fetch-infra browser deploy-tools clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(UV):
	@scripts/ensure-uv.sh

.venv/.installed: $(UV) uv.lock pyproject.toml shared/pyproject.toml localinfra/pyproject.toml services/*/pyproject.toml
	$(UV) sync --all-packages --frozen
	@touch $@

install: .venv/.installed  ## install everything into .venv (uv workspace, locked)

fetch-infra: install  ## download and build Kafka and FerretDB into ~/.cache/alliance (once per version)
	$(PY) -m alliance_localinfra fetch

browser:  ## Debian's chromium for the dashboard's browser tests (no browser download)
	@scripts/ensure-chromium.sh

run: install  ## start Kafka, the store and the four services; Ctrl-C stops everything
	$(PY) -m alliance_localinfra.platform

demo: install  ## load a realistic alliance into the running platform through its public APIs: make demo [SIZE=city]
	$(PY) scripts/demo.py $(if $(SIZE),--size $(SIZE))

bench-city: install  ## the city through the public APIs on its own platform, with same-run baselines: make bench-city [SIZE=city|default] [RATES=250,1000]
	$(PY) bench/city.py $(if $(SIZE),--size $(SIZE)) $(if $(RATES),--rates $(RATES))

chaos: install  ## kill -9 a service, Kafka or the store per trial mid-stream and count: make chaos [TRIALS=18] [FIRST=1]
	$(PY) scripts/chaos.py $(if $(TRIALS),--trials $(TRIALS)) $(if $(FIRST),--first-trial $(FIRST))

deploy-tools:  ## kustomize, kubeconform, hadolint and schemas for the deployment checks (cached, once per version)
	@scripts/ensure-deploy-tools.sh >/dev/null

test: install browser deploy-tools  ## the whole suite against a real Kafka broker and store
	$(PY) -m alliance_localinfra exec -- $(PY) -m pytest $(PYTEST_ARGS)

test-unit: install  ## the fast layer only, no infrastructure
	$(PY) -m pytest -m unit $(PYTEST_ARGS)

lint: install  ## ruff and mypy (strict on the library, localinfra and all four services)
	$(PY) -m ruff check shared localinfra services tests scripts bench
	$(PY) -m mypy shared/alliance_shared localinfra/alliance_localinfra services/registry/alliance_registry \
		services/activity/alliance_activity services/evaluation/alliance_evaluation services/notification/alliance_notification

token: install  ## print a dev JWT: make token ROLE=secretariat [INSTITUTION=<id>]
	@$(PY) -m alliance_shared.tokens --role $(ROLE) $(if $(INSTITUTION),--institution $(INSTITUTION)) $(if $(ORGANIZATION),--organization $(ORGANIZATION))

clean:  ## remove the virtual environment and test artifacts (the infra cache stays)
	rm -rf .venv test-artifacts .pytest_cache
