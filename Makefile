# Shipyard Neo: `make run` starts Bay on the local driver, `make test` runs lint and every test.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11 /usr/local/bin/python3.11) $(shell command -v python3))
UV ?= $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
SHIP_VENV := $(CURDIR)/.venv-ship
# The sandbox environment's root filesystem (images/sandbox), linked here by `make rootfs`.
SANDBOX_ROOTFS := $(CURDIR)/.tools/sandbox/rootfs

export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_SYSTEM_CERTS ?= 1
export BAY_DRIVER__LOCAL__SHIP_VENV ?= $(SHIP_VENV)

RUN := $(UV) run --no-sync

.PHONY: help run test lint fmt typecheck unit integration sync bwrap rootfs image test-docker bench \
	deploy-images

help:
	@echo "make run    start Bay on 127.0.0.1:8114 (local driver, SQLite under ./.bay)"
	@echo "make test   lint + every test (on SQLite), then Bay's suites on PostgreSQL"
	@echo "make fmt    format the code"
	@echo "make rootfs build the sandbox environment for the local driver (skipped when current)"
	@echo "make image  build the Ship image for the docker driver from that same environment"
	@echo "make deploy-images  build deploy/compose.yaml's images (docs/deployment.md)"
	@echo "make bench  the benchmark harness (SCENARIO=tti,exec,... runs some; see bench/README.md)"

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) scripts/bootstrap_uv.py $@

sync: $(UV)
	@$(UV) sync --all-packages --locked --quiet --compile-bytecode
	@UV_PROJECT_ENVIRONMENT=$(SHIP_VENV) $(UV) sync --package shipyard-ship --no-dev --locked --quiet \
		--compile-bytecode
	@# Sandboxes see Ship's sources read-only: compile them here or every start compiles them.
	@$(SHIP_VENV)/bin/python -m compileall -q packages/*/src

bwrap:
	@scripts/ensure_bwrap.sh

# The sandbox environment needs root and debootstrap: without them `rootfs` says so and Bay
# runs sandboxes over the host's /usr, warning loudly.
rootfs: sync bwrap
	@UV=$(UV) $(PYTHON) scripts/sandbox_env.py rootfs

# A rootfs given in BAY_DRIVER__LOCAL__ROOTFS wins over the one built here.
WITH_ROOTFS := if [ -z "$${BAY_DRIVER__LOCAL__ROOTFS+set}" ] && [ -e $(SANDBOX_ROOTFS) ]; then \
	export BAY_DRIVER__LOCAL__ROOTFS=$(SANDBOX_ROOTFS); fi;

run: sync bwrap rootfs
	@$(WITH_ROOTFS) exec $(RUN) bay serve

fmt: sync
	$(RUN) python scripts/unasync.py
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

lint: sync
	$(RUN) ruff format --check .
	$(RUN) ruff check .
	$(RUN) mypy packages tests bench scripts
	$(RUN) lint-imports
	$(RUN) python scripts/unasync.py --check

# The unit suite is in-process only (no engines, fixed ports or shared files), so its tests
# spread over pytest-xdist workers: one per core and one more, since about a third of a
# worker's time is spent waiting (kernels starting, timeouts running out) and the extra one
# fills it (on 2 cores: 96 s with 2 workers, 78 s with 3). The replica and migration tests
# keep to one worker (their xdist_group), so one PostgreSQL server starts for them.
CORES := $(shell $(PYTHON) -c 'import os; print(len(os.sched_getaffinity(0)) \
	if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)')
PARALLEL := -n $(shell expr $(CORES) + 1) --dist loadgroup

unit: sync
	$(RUN) pytest $(PARALLEL) tests/unit

integration: sync bwrap rootfs
	$(RUN) pytest tests/integration

image: sync bwrap
	@UV=$(UV) $(PYTHON) scripts/sandbox_env.py image

# Bay, PostgreSQL and the proxy for deploy/compose.yaml, on the same base (and the Ship image).
deploy-images: sync bwrap
	@UV=$(UV) $(PYTHON) scripts/deploy_images.py

test-docker: sync image
	$(RUN) pytest -m docker tests/integration

# Bay's suites again with every Bay on PostgreSQL (a throwaway server the tests start and stop
# by pid): Bay's unit tests, the `bay` command run as a process, the black-box contract suite,
# and the integration and security suites that run real Bays on the local driver. The
# Docker-driver Bays, the egress network lab, the drivers, Ship, the SDK and the sandbox
# environment use Bay's database no differently and run once; so do the replica and migration
# tests, which run on PostgreSQL anyway.
POSTGRES_SUITES := tests/unit/bay tests/cli/test_bay.py tests/cli/test_bay_key_printing.py \
	tests/contract \
	tests/integration/test_bay_local.py tests/integration/test_orphan_sessions.py \
	tests/integration/test_warm_pool.py tests/integration/test_streaming.py \
	tests/integration/test_clients_live.py tests/integration/test_ports.py \
	tests/integration/test_readme.py tests/integration/test_metadata_env.py \
	tests/integration/test_observability.py tests/security/test_crash.py \
	tests/security/test_api_abuse.py

# Every test once: the unit suite in parallel, then the rest (real engines, dockerd, network
# namespaces, fixed resources) one at a time; the same split on PostgreSQL.
test: lint bwrap rootfs
	$(RUN) pytest $(PARALLEL) tests/unit
	$(RUN) pytest --ignore=tests/unit
	$(RUN) pytest --database=postgres $(PARALLEL) --deselect tests/unit/bay/test_replicas.py \
		--deselect tests/unit/bay/test_migrations.py $(filter tests/unit/%,$(POSTGRES_SUITES))
	$(RUN) pytest --database=postgres -m "not docker" $(filter-out tests/unit/%,$(POSTGRES_SUITES))

# Docker scenarios are skipped (and say so) when dockerd or the image is missing.
bench: sync bwrap rootfs
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory image; fi
	$(RUN) python -m bench $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(DRIVERS),--drivers $(DRIVERS))
