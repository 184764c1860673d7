# MCP OAuth sandbox. `make sandbox` runs it; `make test` tests it. Each installs what it needs.
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
# Empty: the CLI decides (SANDBOX_BACKEND, else mock). `make sandbox BACKEND=keycloak` overrides.
BACKEND ?=
# Empty: the CLI decides (SANDBOX_PORT, else 8000). `make sandbox PORT=8001` overrides.
PORT    ?=
STAMP   := $(VENV)/.installed-stamp
BYTECODE := $(VENV)/.bytecode-stamp
# podman or docker, for the image targets.
CONTAINER_ENGINE ?= podman
KEYCLOAK_VERSION := 26.7.3
PYTEST  := $(BIN)/python -m pytest

.PHONY: sandbox lint test test-unit test-e2e test-keycloak servers fidelity-record keycloak-image sandbox-image test-sandbox-image bench bench-tools browser node mcp-peers js-peers install clean

# Node 22 (the TS SDK, Inspector, conformance and oauth2-mock-server need it) from npm's
# `node` package, into the checkout: the machine's own Node stays as it is.
NODE_VERSION := 22.23.3
NODE_DIR     := .tools/node
NODE         := $(NODE_DIR)/node_modules/.bin/node

# The JavaScript MCP peers of the upstream-mode suites, pinned, into the checkout:
# the reference "everything" server and the MCP conformance suite.
EVERYTHING_VERSION  := 2026.8.31
CONFORMANCE_VERSION := 0.1.16
PEERS_DIR   := .tools/mcp-peers
PEERS_STAMP := $(PEERS_DIR)/.installed-$(EVERYTHING_VERSION)-$(CONFORMANCE_VERSION)

sandbox: $(STAMP)
	$(BIN)/python -m sandbox $(if $(BACKEND),--backend $(BACKEND)) $(if $(PORT),--port $(PORT))

install: $(STAMP) $(BYTECODE)

# Re-install whenever the pinned dependencies change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# editable_mode=compat: a plain path entry (the checkout) in a .pth file. setuptools' default
	# ("lenient") installs an import-hook finder that every interpreter start loads: ~8 ms in
	# site, ~4 ms net of a mock IdP cold start (~120 ms). The packages are found on the path alike.
	$(BIN)/python -m pip install -q -e ".[test,keycloak]" --config-settings editable_mode=compat
	# An editable install leaves the project's own modules uncompiled (pip compiles only what it
	# copies), and with PYTHONDONTWRITEBYTECODE set nothing ever caches them: every start would
	# compile them again (~40 ms of a sandbox's cold start). Edited files are recompiled as usual.
	$(BIN)/python -m compileall -q sandbox mock_idp
	touch $@

# PYTHONDONTWRITEBYTECODE also keeps two caches empty that compileall cannot fill: pytest's
# assertion-rewritten copies of every pytest plugin's package (anyio, pytest-asyncio, xdist,
# hypothesis, this project's), and beartype's instrumented py-key-value modules. Without them every
# pytest start rewrites and compiles those modules again (~0.1-0.17 s of CPU before a plugin test's
# first call) and every sandbox start compiles py-key-value again. One plugin run with writes
# allowed leaves both, as a machine without the variable has after its first run (issue 17).
# Not fatal: only start-up speed depends on it, and `make test` runs the same test. The stamp is
# written only after a run that passed, so a failed warm-up is tried again by the next make.
# Each module of the two packages is a prerequisite: after an edit, a pull or a merge, a venv whose
# caches predate it would compile the changed modules at every start (the CLI's) and
# assertion-rewrite them at every pytest start, ~0.1-0.3 s of a bench figure for a day's merges.
PACKAGE_SOURCES := $(shell find sandbox mock_idp -name '*.py' -not -path '*/__pycache__/*')
$(BYTECODE): $(STAMP) tests/plugin/test_first_call.py $(PACKAGE_SOURCES)
	$(BIN)/python -m compileall -q sandbox mock_idp
	env -u PYTHONDONTWRITEBYTECODE $(PYTEST) -q -p no:cacheprovider --sandbox-backend mock tests/plugin/test_first_call.py \
		&& touch $@ \
		|| echo "install: the bytecode warm-up run failed; pytest and sandbox starts stay slower"

# Chromium for the Playwright suites: the system package where we may install it
# (root with apt), else Playwright's own download (the usual path on a laptop).
browser: $(STAMP)
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
		echo "browser: using system $$(command -v chromium || command -v chromium-browser)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -q && apt-get install -y -q chromium; \
	else \
		$(BIN)/playwright install chromium; \
	fi

# The servers the scale-out tests start on free ports of their own (Redis, nginx as the load
# balancer, PostgreSQL for Keycloak): Debian's packages where we may install them (root with
# apt); elsewhere the tests that need one skip, naming what is missing. Debian's PostgreSQL
# binaries live off PATH, in /usr/lib/postgresql/<version>/bin.
servers:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -z "$$missing" ]; then \
		echo "servers: redis-server, nginx and postgresql are installed"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	else \
		echo "servers: not installed:$$missing (their tests skip; install them as root, or: sudo make servers)"; \
	fi

# The e2e suite's JavaScript peers, pinned by e2e/js/package-lock.json: the MCP TypeScript
# SDK (a CIMD client) and the conformance suite (its authorization mode is 0.2 pre-release only).
JS_DIR   := e2e/js
JS_STAMP := $(JS_DIR)/node_modules/.installed-stamp

node: $(NODE)

js-peers: $(JS_STAMP)

$(JS_STAMP): $(JS_DIR)/package-lock.json | $(NODE)
	PATH="$(CURDIR)/$(NODE_DIR)/node_modules/.bin:$$PATH" npm ci --prefix $(JS_DIR) --no-audit --no-fund --silent
	touch $@

$(NODE):
	npm install --no-audit --no-fund --silent --prefix $(NODE_DIR) node@$(NODE_VERSION)
	$(NODE) --version

mcp-peers: $(PEERS_STAMP)

$(PEERS_STAMP): | $(NODE)
	PATH="$(CURDIR)/$(NODE_DIR)/node_modules/.bin:$$PATH" npm install --no-audit --no-fund --silent --prefix $(PEERS_DIR) \
		@modelcontextprotocol/server-everything@$(EVERYTHING_VERSION) @modelcontextprotocol/conformance@$(CONFORMANCE_VERSION)
	touch $@

# Lint and types (issue 12): ruff over the tree, mypy --strict on the two packages (pyproject.toml
# [tool.mypy]), and the shape rule: no module in them over 300 lines, no function over 60.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python .ci/shape.py sandbox mock_idp

# Lint first: a type or shape error fails in seconds, before the browsers and servers install.
test: lint $(BYTECODE) browser servers mcp-peers js-peers
	$(PYTEST) -m "not keycloak"

test-unit: $(BYTECODE) servers
	$(PYTEST) tests -m "not keycloak"

test-e2e: $(BYTECODE) browser servers mcp-peers js-peers
	$(PYTEST) e2e

# The same e2e suite and attack table against a real Keycloak, plus the Keycloak-only tests, in
# one run that boots Keycloak once for all of them (sandbox/testing/keycloak_session.py).
# KEYCLOAK_LAUNCHER=container|distribution (default: auto) picks how Keycloak runs.
ifneq ($(KEYCLOAK_LAUNCHER),)
test-keycloak: export SANDBOX_KEYCLOAK_LAUNCHER := $(KEYCLOAK_LAUNCHER)
endif
test-keycloak: $(BYTECODE) browser servers mcp-peers js-peers
	$(PYTEST) -m keycloak --sandbox-backend keycloak tests e2e

# Keycloak's official image, built here without a registry (Debian base, Debian JRE, Maven): images/.
keycloak-image:
	images/keycloak/build $(KEYCLOAK_VERSION) $(CONTAINER_ENGINE)

# The sandbox's own image (images/sandbox/Containerfile), and a run of it checked from the host.
sandbox-image: $(STAMP)
	images/sandbox/build $(BIN)/python $(CONTAINER_ENGINE)

test-sandbox-image: sandbox-image
	$(PYTEST) images/sandbox

# Keycloak's answers to the differential suite, recorded for `make test` (e2e/fidelity/).
fidelity-record: $(STAMP)
	$(PYTEST) e2e/test_fidelity.py --sandbox-backend keycloak --fidelity-record

# What the bench needs from Debian: wrk for throughput, a JRE and Maven for navikt's
# mock-oauth2-server (bench_peers.py), redis-server and nginx for the replicas (bench_scale.py).
# Installed when root with apt-get; elsewhere each missing one is named.
BENCH_DEBS := wrk:wrk java:default-jre-headless mvn:maven redis-server:redis-server nginx:nginx
bench-tools: | $(NODE)
	@missing=""; for pair in $(BENCH_DEBS); do command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; done; \
	if [ -z "$$missing" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -q && apt-get install -y -q $$missing; \
	else echo "bench: missing Debian packages:$$missing (the bench skips what needs them)"; fi

# The peers (oidc-provider-mock, navikt mock-oauth2-server, oauth2-mock-server) install
# themselves into .tools/peers on first use (bench/peers.py).
bench: $(BYTECODE) mcp-peers bench-tools
	$(BIN)/python bench/bench_peers.py
	$(BIN)/python bench/bench_mock_idp.py
	$(BIN)/python bench/bench_sandbox.py --backend mock
	$(BIN)/python bench/bench_registration.py
	$(BIN)/python bench/bench_trace.py
	$(BIN)/python bench/bench_upstream.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_sandbox.py --backend keycloak
	$(BIN)/python bench/bench_keycloak_start.py
	$(BIN)/python bench/bench_plugin_startup.py
	$(BIN)/python bench/bench_xdist.py

clean:
	rm -rf $(VENV) .tools $(JS_DIR)/node_modules .pytest_cache test-artifacts dist build *.egg-info
