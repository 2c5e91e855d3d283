# One command surface for people and CI (DESIGN.md §5).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# The checkout keeps its state in .data (an installed package uses the XDG state dir; services/common/config.py).
export SIGAP_DATA_DIR ?= $(CURDIR)/.data

.PHONY: help venv infra topics up down demo test test-unit lint schemas bench bench-smoke bench-fill browser faults faults-smoke test-deploy secure-up secure-down image-local bench-reports test-cluster

help:
	@echo "make up      start Kafka, Redis, dispatcher, notifier and gateway; load the demo roster"
	@echo "make down    stop what make up started"
	@echo "make demo    post a flood in Kelurahan Manisrenggo and show its flow"
	@echo "make test    start Kafka and Redis if needed and run the whole suite"
	@echo "make lint    ruff and mypy --strict"
	@echo "make bench   run the benchmark, write bench/report.{json,md}"
	@echo "make faults  kill services, a broker of three, the Redis primary under load; write faults/report.{json,md}"

$(VENV)/.installed: pyproject.toml deploy/local/python.sh
	@$(PY) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null || \
	  { py="$$(bash deploy/local/python.sh)" && rm -rf $(VENV) && "$$py" -m venv $(VENV); }
	$(PY) -m pip install -q --upgrade pip >/dev/null
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed

infra: venv
	bash deploy/local/up-infra.sh
	$(PY) -m services.common.topics

topics: venv
	$(PY) -m services.common.topics

browser:
	bash deploy/local/browser.sh

up: infra
	bash deploy/local/services.sh start

down:
	-bash deploy/local/services.sh stop
	bash deploy/local/down-infra.sh

demo: venv
	$(PY) -m services.cli demo

# The suite on TEST_WORKERS pytest-xdist processes (0: in this one); a module's tests stay on one worker,
# the slowest modules are handed out first (tests/support/parallel.py).
TEST_WORKERS ?= $(or $(SIGAP_TEST_WORKERS),2)
test: infra browser
	$(PY) -m pytest -n $(TEST_WORKERS)

test-unit: venv
	$(PY) -m pytest tests/unit

lint: venv
	ruff check .
	ruff format --check schemas services
	mypy

schemas: venv
	$(PY) -m schemas.jsonschema

bench: infra
	$(PY) -m bench.run

bench-smoke: infra
	$(PY) -m bench.run --smoke

bench-fill: venv
	$(PY) -m bench.fill --trials 200 --json bench/fill.json

faults: infra
	$(PY) -m faults.run

faults-smoke: infra
	$(PY) -m faults.run --smoke

# Deployment (issue 17): the package, manifests, Compose and image files, and the secured transport
# (deploy/local/secure.sh starts its own SASL_SSL broker and TLS Redis on ports 17292-17296 and stops them).
test-deploy: infra
	$(PY) -m pytest tests/deploy tests/unit/deploy tests/integration/secure

secure-up: venv
	bash deploy/local/secure.sh start

secure-down:
	bash deploy/local/secure.sh stop

# Build deploy/container/Dockerfile without Docker Hub (mmdebstrap base + buildah) and check the image.
image-local:
	bash deploy/container/build-local.sh

bench-reports: infra
	$(PY) -m bench.reports --kafka

# The dispatcher's rule suite and the rebuild scenario against a local three-node Redis Cluster
# (deploy/local/redis-cluster.sh; ports from REDIS_CLUSTER_PORTS), through redis-py's RedisCluster.
REDIS_CLUSTER_PORTS ?= $(or $(SIGAP_REDIS_CLUSTER_PORTS),7101 7102 7103)
test-cluster: infra
	SIGAP_REDIS_CLUSTER_PORTS="$(REDIS_CLUSTER_PORTS)" bash deploy/local/redis-cluster.sh start
	SIGAP_REDIS_URL="redis://127.0.0.1:$(firstword $(REDIS_CLUSTER_PORTS))/0" SIGAP_REDIS_CLUSTER=true \
	  $(PY) -m pytest tests/integration/dispatcher/test_rules.py tests/integration/dispatcher/test_rebuild.py \
	  tests/integration/dispatcher/test_understaffed.py tests/integration/dispatcher/test_roster.py -q; \
	  rc=$$?; SIGAP_REDIS_CLUSTER_PORTS="$(REDIS_CLUSTER_PORTS)" bash deploy/local/redis-cluster.sh stop; exit $$rc
