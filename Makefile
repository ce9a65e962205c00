# openstack-ndb: `make up` deploys the dev stack, `make test` runs everything from a fresh clone.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

STACK ?= dev
PYTHON ?= python3
CACHE ?= $(HOME)/.cache/openstack-ndb
# Local file backend: no account needed. State lives outside the clone so that deleting the
# clone never loses it; set PULUMI_BACKEND_URL to use another backend.
export PULUMI_BACKEND_URL ?= file://$(HOME)/.pulumi-openstack-ndb

# The virtualenv is cached by the hash of the requirements files and linked as .venv, so a
# fresh clone with unchanged requirements costs a symlink, not an install.
REQ_HASH := $(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)
VENV_DIR := $(CACHE)/venv-$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')-$(REQ_HASH)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help venv testbed bench-peer bench-ha bench-scale-out openstack-venvs kolla-source cluster-up cluster-down status cloud-up cloud-down tempest sizing measure-sizing up preview destroy openrc backup restore test test-fast test-full test-unit test-mocks lint bench clean

help:
	@echo "make up       pulumi up on the $(STACK) stack (needs the Pulumi CLI and Docker)"
	@echo "make preview  pulumi preview --diff on the $(STACK) stack"
	@echo "make openrc   the admin's openrc from the stack outputs, mode 0600 (openrc-$(STACK))"
	@echo "make backup   one native NDB backup now, by the stack's backup job"
	@echo "make restore BACKUP=<id> [UNTIL='YYYY-MM-DD hh:mm:ss'] [DATABASES=a,b] [FROM=<stack>]"
	@echo "              restore a backup (and replay the binlog up to UNTIL, UTC)"
	@echo "make test-fast  the inner loop: unit and mock tests (markers unit, mocks); no root, ~20-30 s on 2 cores"
	@echo "make test     what CI runs: venv, lint, test bed, every tier (unit mocks real testbed"
	@echo "              openstack kolla); needs root; README \"Tests\" says what each tier needs"
	@echo "make test-full  make test plus the long opt-in suites (marker full: every service's migrations in utf8mb4, ~4.5 min;"
	@echo "              each prod host lost under a write load and an API load, ~25 min; 2000 generated"
	@echo "              [ndbd default] parameter sets against the test bed's ndb_mgmd, ~3 min;"
	@echo "              2 -> 4 data nodes under a write load, ~21 min)"
	@echo "make testbed  build the real NDB test bed (cached; cold ~12 min, warm seconds)"
	@echo "make cluster-up / cluster-down   a real cluster from the $(STACK) stack's files, to poke at"
	@echo "make status   the $(STACK) stack's NDB cluster at a glance (nodes, DataMemory, SQL endpoint, last backup,"
	@echo "              cluster-log alerts); TESTBED=1: the cluster of make cluster-up; JSON=1: machine-readable"
	@echo "make cloud-up / cloud-down       the whole dev control plane as processes on a test-bed cluster (root; ~6 min, 3 GB)"
	@echo "make tempest  Tempest on a control plane of its own per arm, InnoDB (A) then NDB (B); opt-in, long;"
	@echo "              cloud-down and cluster-down first. ARM: innodb and/or ndb (default both);"
	@echo "              AREA: a list of identity image network orchestration compute volume smoke"
	@echo "              (default every area but smoke, about 35 min); results in .tempest/"
	@echo "make sizing   DataMemory per data node and node groups for a planned cloud (no root, no server):"
	@echo "              the stack's openstack.expectedScale, or ARGS=\"--instances 2000 ...\" (--help lists them)"
	@echo "make measure-sizing  measure bytes per OpenStack object on the test bed into config/ndb_memory.yaml"
	@echo "              (root; the dev control plane with its compute stand-ins, ~12 min, 3 GB)"
	@echo "make openstack-venvs  keystone, glance, placement, nova, neutron, heat, cinder, horizon, the openstack CLI and Tempest from PyPI (cached)"
	@echo "make kolla-source     Kolla's own sources (kolla 23.0.0 from PyPI), for tests/kolla (cached)"
	@echo "make lint     ruff and mypy"
	@echo "make bench    figures, not tests (root; ~30 min on 2 cores; an idle machine): NDB side by side with"
	@echo "              Galera as Kolla-Ansible runs it; the OpenStack APIs with Rally on NDB and on InnoDB;"
	@echo "              the program under mocks; writes under a rolling restart (figures in .bench/);"
	@echo "              then the prod stack's hosts as network namespaces: each host lost under"
	@echo "              a write load and an API load, the virtual address's takeover, a SQL node cut off"
	@echo "              (make bench-ha, ~30 min)"
	@echo "make bench-peer  Debian's mariadb-server, galera-4, mariadb-backup, socat, sysbench (root)"
	@echo "make bench-scale-out  2 -> 4 data nodes under a write load: step and table times, longest stall (root)"

$(VENV_DIR)/.ready:  # the directory name carries the requirements hash
	@echo "[venv] installing into $(VENV_DIR)"
	rm -rf "$(VENV_DIR)"
	$(PYTHON) -m venv "$(VENV_DIR)"
	"$(VENV_DIR)/bin/pip" install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch "$@"

venv: $(VENV_DIR)/.ready
	@if [ "$$(readlink $(VENV) 2>/dev/null)" != "$(VENV_DIR)" ]; then rm -rf $(VENV); ln -s "$(VENV_DIR)" $(VENV); fi

define require_tools
	@command -v pulumi >/dev/null || { echo "error: the Pulumi CLI is not installed." \
	  "Install it (https://www.pulumi.com/docs/iac/download-install/) and run make $@ again." >&2; exit 1; }
	@command -v docker >/dev/null || { echo "error: the docker CLI is not installed; the" \
	  "readiness gates run 'docker exec'. Install Docker and run make $@ again." >&2; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "error: no Docker engine answers (docker info failed)." \
	  "Start Docker, or check DOCKER_HOST, and run make $@ again." >&2; exit 1; }
endef

up: venv
	$(require_tools)
	pulumi stack select --create $(STACK)
	pulumi up --stack $(STACK)

preview: venv
	$(require_tools)
	pulumi stack select --create $(STACK)
	pulumi preview --diff --stack $(STACK)

destroy: venv
	$(require_tools)
	pulumi destroy --stack $(STACK)

# The admin's openrc from the stack outputs, readable by you only (it holds the password).
# Written to a temp file first, so a failed read never leaves a half file or a wider mode.
OPENRC ?= openrc-$(STACK)
openrc:
	@command -v pulumi >/dev/null || { echo "error: the Pulumi CLI is not installed." \
	  "Install it (https://www.pulumi.com/docs/iac/download-install/) and run make $@ again." >&2; exit 1; }
	@umask 077; tmp="$$(mktemp "$(OPENRC).XXXXXX")"; \
	  if pulumi stack output openrc --show-secrets --stack $(STACK) >"$$tmp"; then \
	    chmod 600 "$$tmp" && mv "$$tmp" "$(OPENRC)" && echo "wrote $(OPENRC) (mode 0600): source $(OPENRC)"; \
	  else rm -f "$$tmp"; echo "error: no openrc output on stack $(STACK); run make up first" >&2; exit 1; fi

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# Backups (README "Backups", "Restore", "Point-in-time recovery"): run by the stack's backup job
# container (docker exec); tools/backup.py reads the stack outputs. Secrets go on stdin only.
backup: venv
	$(require_tools)
	$(PY) -m tools.backup backup --stack $(STACK)

BACKUP ?=
UNTIL ?=
DATABASES ?=
FROM ?=
restore: venv
	$(require_tools)
	@test -n "$(BACKUP)" || { echo "usage: make restore BACKUP=<id> [UNTIL='YYYY-MM-DD hh:mm:ss']" \
	  "[DATABASES=a,b] [FROM=<stack the backup was made on>] [STACK=...]" >&2; exit 2; }
	$(PY) -m tools.backup restore --stack $(STACK) --backup "$(BACKUP)" --until "$(UNTIL)" \
	  --databases "$(DATABASES)" --from-stack "$(FROM)"

# Tiers are pytest markers, given by folder in conftest.py (pyproject.toml lists them).
test-fast: venv
	@$(PY) -m pytest -q -m "unit or mocks"

test-unit: venv
	$(PY) -m pytest -q -m unit

test-mocks: venv
	$(PY) -m pytest -q -m mocks

# The real NDB Cluster test bed: NDB programs built from Debian's source package, sid's mysqld
# in a debootstrapped root, haproxy (testbed/provision.sh; needs root).
testbed:
	bash testbed/provision.sh

# keystone, glance, placement, nova, neutron, heat, cinder and horizon from PyPI, one cached
# venv each, to run their own migrations against the test bed and serve the control plane
# in tests/openstack/running/ (cold ~8 min, warm seconds).
openstack-venvs:
	bash tests/openstack/provision_services.sh

cluster-up: venv testbed
	$(PY) -m testbed up --stack $(STACK)

status: venv
	@$(PY) -m tools.status --stack $(STACK) $(if $(TESTBED),--testbed) $(if $(JSON),--json)

cluster-down: venv
	$(PY) -m testbed down --stack $(STACK)

# The dev control plane where no Docker engine runs: every container of every enabled service
# as a process from its rendered files (tests/openstack/cloud.py), on a test-bed NDB cluster.
# Prints progress while it starts, then the openrc path and how to stop it.
cloud-up: venv testbed openstack-venvs kolla-source
	$(PY) -m tests.openstack.cloud up

cloud-down: venv
	$(PY) -m tests.openstack.cloud down

# Tempest against that control plane, once per database arm: A a plain MySQL 9.7 with InnoDB
# and ndb_adapt off, B the NDB cluster with ndb_adapt on; same venvs, rendered files, test
# list and worker partition (tests/openstack/tempest_run.py). Not in make test: each arm starts
# its own control plane (1.5 min on InnoDB, 5.5 on NDB) and runs the areas (all six: about
# 35 min; README "Tests", make tempest).
# Starts real servers on loopback: one at a time on a shared machine.
ARM ?= innodb ndb
AREA ?= identity image network orchestration compute volume
tempest: venv testbed openstack-venvs kolla-source
	$(PY) -m tests.openstack.tempest_run $(foreach a,$(ARM),--arm $(a)) $(foreach a,$(AREA),--area $(a))

# DataMemory for the cloud you plan (tools/sizing.py over config/ndb_memory.yaml): the stack's
# openstack.expectedScale with its services and data nodes, each ARGS flag overriding a key.
ARGS ?=
sizing: venv
	$(PY) -m tools.sizing --stack $(STACK) $(ARGS)

# What sizing reads: bytes per OpenStack object measured on the test bed (tools/measure/
# sizing.py; the dev control plane as cloud-up starts it, objects created through the APIs).
# Starts real servers on loopback: one at a time on a shared machine.
measure-sizing: venv testbed openstack-venvs kolla-source
	$(PY) -m tools.measure.sizing --out config/ndb_memory.yaml

# Kolla's own sources (kolla 23.0.0, the 2026.2 images): reference data for tests/kolla.
kolla-source: venv
	bash tests/kolla/provision_kolla.sh

test: venv lint testbed openstack-venvs kolla-source
	$(PY) -m pytest -q

# Everything: make test's tiers plus the suites marked `full` (deselected without --full).
test-full: venv lint testbed openstack-venvs kolla-source
	$(PY) -m pytest -q --full

# Debian's packages for the Galera peer and sysbench (bench/provision_peer.sh; root).
bench-peer:
	bash bench/provision_peer.sh

# Starts real servers on loopback: one at a time on a shared machine, and on an otherwise idle
# one, since every figure is a time.
bench: venv testbed bench-peer openstack-venvs kolla-source
	$(PY) bench/side_by_side.py
	$(PY) bench/api_side_by_side.py
	$(PY) bench/program_under_mocks.py
	$(PY) bench/cluster_under_load.py
	$(MAKE) bench-ha
	$(MAKE) bench-scale-out

# 2 -> 4 data nodes under a write load, as `pulumi up` runs it: each step's time, each
# table's reorganisation and memory, the longest write stall (README "Day-2 operations").
bench-scale-out: venv testbed openstack-venvs
	$(PY) -m pytest -q -s --full -p no:cacheprovider tests/testbed/test_scale_out.py

# The high-availability figures: the tests that assert their bounds, with their prints; CI=true
# so that a missing tool fails them instead of skipping them.
bench-ha: venv testbed openstack-venvs kolla-source
	CI=true $(PY) -m pytest -q -s --full -p no:cacheprovider tests/testbed/test_host_loss.py \
	  tests/real/test_keepalived.py tests/testbed/test_sql_check.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
