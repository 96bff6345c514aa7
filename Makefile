# Calbridge: `make run` brings everything up; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HTMX_VERSION := 2.0.11
AXE_VERSION := 4.14.1

.PHONY: run test test-postgres bench bench-quick venv redis chromium system-deps vendor-htmx vendor-axe calendar-css clean

venv: $(STAMP)
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

# A private redis-server (the project starts its own; nothing runs as a service).
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "Installing redis-server from Debian..."; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq redis-server >/dev/null; }

# Debian's Chromium for Playwright (Playwright cannot download its own here).
chromium:
	@[ -x /usr/bin/chromium ] || { \
	  echo "Installing chromium from Debian..."; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null; }

system-deps: redis chromium

run: venv redis
	$(BIN)/python -m portal.devstack

test: venv system-deps
	$(BIN)/python -m pytest

# The reliability and migration suites again on a throwaway PostgreSQL cluster (SPEC R3), where PostgreSQL is installed.
test-postgres: venv system-deps
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then echo "PostgreSQL is not installed: skipping the PostgreSQL run."; exit 0; fi; \
	url=$$(sh tests/reliability/pg_cluster.sh start) || exit 1; \
	TEST_DATABASE_URL=$$url $(BIN)/python -m pytest -m "reliability or schema" -p no:cacheprovider; rc=$$?; \
	sh tests/reliability/pg_cluster.sh stop; exit $$rc

bench: venv redis
	$(BIN)/python -m benchmarks

# A smoke run of every figure with small counts (under 3 minutes; CI runs it): fails only if a step breaks.
bench-quick: venv system-deps
	$(BIN)/python -m benchmarks --quick --output build/bench-quick

# Refresh the vendored htmx from the npm registry (kept in static/, no CDN).
vendor-htmx:
	cd /tmp && npm pack htmx.org@$(HTMX_VERSION) >/dev/null && tar xzf htmx.org-$(HTMX_VERSION).tgz
	cp /tmp/package/dist/htmx.min.js static/htmx.min.js

# Refresh the vendored axe-core (the accessibility sweep injects it; committed so the tests need no network).
vendor-axe:
	rm -rf /tmp/axe-core-pack && mkdir -p /tmp/axe-core-pack
	cd /tmp/axe-core-pack && npm pack axe-core@$(AXE_VERSION) >/dev/null && tar xzf axe-core-$(AXE_VERSION).tgz
	mkdir -p tests/vendor && cp /tmp/axe-core-pack/package/axe.min.js tests/vendor/axe.min.js

# The calendar grid's placement classes (CSS classes, not inline styles: the CSP forbids those).
calendar-css: $(STAMP)
	$(BIN)/python -c 'from portal.appointments import grid; open("static/calendar-grid.css", "w").write(grid.css())'

clean:
	rm -rf $(VENV) build .pytest_cache
