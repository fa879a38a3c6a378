# The gateway's everyday commands. `make help` lists them.
SHELL := /bin/bash
# uv: the one on PATH, else the project's own (made by `make install` in .tools/ when none is found).
UV ?= $(shell command -v uv >/dev/null 2>&1 && uv --version >/dev/null 2>&1 && echo uv || echo $(CURDIR)/.tools/bin/uv)
PYTEST_ARGS ?=
# Test processes (pytest-xdist): most tests wait on sockets, processes and timeouts, not on a core.
PYTEST_WORKERS ?= 2

.PHONY: help install test-deps run run-prod test sdk-legacy bench mutate lint format contract clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

install: ## uv when missing (into .tools/, no root needed), then the locked dependencies into .venv (compiled)
	@if ! $(UV) --version >/dev/null 2>&1; then \
		echo "uv not found: installing it into .tools/ (a virtual environment of this project's)"; \
		python3 -m venv .tools && .tools/bin/python -m pip install --quiet uv; \
	fi
	$(UV) sync --frozen --compile-bytecode

test-deps: ## redis-server, wrk and hey for the tests and the benchmark smoke (Debian's packages) when missing
	@missing=""; for tool in redis-server wrk hey; do command -v $$tool >/dev/null 2>&1 || missing="$$missing $$tool"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && apt-get install -y -qq $$missing; \
		else \
			echo "missing:$$missing. Install them (Debian/Ubuntu: sudo apt-get install$$missing), then run make test again."; \
			exit 1; \
		fi; \
	fi

bench: install test-deps ## the benchmark: one table (GATEWAY_BENCH_MONGODB_URI adds MongoDB; BENCH_ARGS=--soak for RSS)
	$(UV) run --frozen --no-sync python -m tests.bench $(BENCH_ARGS)

mutate: install ## mutation testing of the core (mutmut; not part of make test): score and survivors
	rm -rf mutants
	$(UV) run --frozen --no-sync mutmut run --max-children $${MUTATE_CHILDREN:-$$(nproc)} || true
	$(UV) run --frozen --no-sync python -m tests.mutation_report

run: install ## serve the gateway (embedded SQLite, in-process cache, echo model) on GATEWAY_HOST:GATEWAY_PORT
	$(UV) run --frozen --no-sync python -m gateway

run-prod: install ## the same with one worker process per core (GATEWAY_WORKERS overrides)
	GATEWAY_WORKERS=$${GATEWAY_WORKERS:-$$(nproc)} $(UV) run --frozen --no-sync python -m gateway

test: install test-deps ## the whole suite, then the HTTP suite again on MongoDB + Redis
	$(UV) run --frozen --no-sync pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)
	GATEWAY_TEST_BACKEND=mongodb $(UV) run --frozen --no-sync pytest -n $(PYTEST_WORKERS) tests/e2e $(PYTEST_ARGS)
	$(MAKE) sdk-legacy

sdk-legacy: ## aitronos-freddy 0.1.2 (httpx<0.26) in its own environment against a gateway process
	cd tests/clients/freddy_legacy && $(UV) sync --frozen && GATEWAY_PYTHON=$(CURDIR)/.venv/bin/python $(UV) run --frozen --no-sync pytest -q

lint: install ## ruff and mypy (strict on gateway and providers)
	$(UV) run --frozen --no-sync ruff check gateway providers tests
	$(UV) run --frozen --no-sync ruff format --check gateway providers tests
	$(UV) run --frozen --no-sync mypy

format: install ## apply ruff's fixes and formatting
	$(UV) run --frozen --no-sync ruff check --fix gateway providers tests
	$(UV) run --frozen --no-sync ruff format gateway providers tests

contract: install ## the shared contract smoke against `make run`
	../shared/contract/run

clean: ## remove the local data directory and caches
	rm -rf .gateway .pytest_cache .mypy_cache .ruff_cache
