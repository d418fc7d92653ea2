# Two commands: `make run` (set up, migrate, serve the demo) and `make test` (set up, lint, type-check, test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install task-cache system-deps run test lint typecheck pytest clean lock screenshots

# Debian packages the project needs: bubblewrap for the evaluation sandbox, the tools its
# challenges are built and solved with (gcc, curl, binutils, a system python3), and chromium,
# which Playwright drives in the browser tests (tests/browser; it cannot download browsers here),
# and npm, which installs the axe-core those tests inject (package-lock.json).
# Go and its golang.org/x/mod tlog package are the independent client that checks proofs from
# the audit log's public tiles in tests/audit/test_tiles.py (no prereview code involved).
# g++, Python.h and libasan build the realworld tier's C cases (AddressSanitizer for grading).
SYSTEM_TOOLS := bwrap:bubblewrap gcc:gcc curl:curl objdump:binutils chromium:chromium npm:npm \
  go:golang-go g++:g++
GO_TLOG := /usr/share/gocode/src/golang.org/x/mod/sumdb/tlog
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do \
	  command -v $${pair%%:*} >/dev/null 2>&1 || missing="$$missing $${pair##*:}"; done; \
	[ -x /usr/bin/python3 ] || missing="$$missing python3"; \
	[ -e /usr/include/python3.11/Python.h ] || missing="$$missing python3-dev"; \
	[ -d /usr/lib/python3/dist-packages/pytest ] || missing="$$missing python3-pytest"; \
	[ -e /usr/lib/x86_64-linux-gnu/libasan.so.8 ] || missing="$$missing libasan8"; \
	[ -d $(GO_TLOG) ] || missing="$$missing golang-golang-x-mod-dev"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq $$missing; \
	  else sudo apt-get update -qq && sudo apt-get install -y -qq $$missing; fi; fi

# Every package comes from requirements/dev.lock, pinned by version and sha256 (pip refuses
# anything else); the project itself is then installed in place without build isolation, so
# that nothing is fetched unpinned for its build either. `make lock` rewrites the lock.
$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

lock:
	$(PYTHON) -m venv var/lock-tools && var/lock-tools/bin/pip install --quiet pip-tools
	var/lock-tools/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	  --extra dev -o requirements/dev.lock pyproject.toml requirements/build.in

# The JavaScript the browser tests inject (axe-core), pinned with sha512 hashes in
# package-lock.json; `npm ci` installs exactly that, without running any package's scripts, and
# only when the lock changed. Nothing downloads at test time.
NPM_STAMP := node_modules/.installed-stamp
$(NPM_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	touch $(NPM_STAMP)

# The pinned releases of the real-vulnerability tasks (src/prereview/evals/realworld/cache.toml),
# downloaded into var/task-cache/ and hash-checked; never installed, never fetched at run time.
task-cache: $(STAMP)
	$(BIN)/python tools/fetch_task_cache.py fetch

install: system-deps $(STAMP) $(NPM_STAMP) task-cache

run: install
	$(BIN)/prereview db upgrade
	$(BIN)/prereview serve --demo --host $(HOST) --port $(PORT)

# lint-imports checks the layers and the published-only rule (pyproject.toml, ARCHITECTURE.md).
lint: install
	$(BIN)/ruff check src tests tools $(wildcard benchmarks)
	$(BIN)/ruff format --check src tools
	PYTHONPATH=tools $(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy src

# The suite runs in PYTEST_WORKERS processes (pytest-xdist; each has its own SQLite template
# and PostgreSQL database, see tests/conftest.py), taking tests as they free up: most of its
# time is spent waiting on servers, sandboxes and databases, so it runs more workers than cores.
# Its temporary files (each test's SQLite database, keys, blobs, sandboxes) go to a tmpfs where
# there is one with room (4 GB) that may hold programs (sandboxes run what they build there), one
# directory per checkout: a commit there waits for no disk.
# Durability tests kill the platform's process, never the machine, so nothing they check
# depends on the disk.
PYTEST_WORKERS ?= 4
PYTEST_TMP ?= $(shell avail=$$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 {print $$4}'); \
  [ "$${avail:-0}" -gt 4000000 ] && ! grep -qs ' /dev/shm .*noexec' /proc/mounts && echo /dev/shm/prereview-pytest-$$(echo "$(CURDIR)" | md5sum | cut -c1-8))
pytest: install
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal $(if $(PYTEST_TMP),--basetemp=$(PYTEST_TMP))

test: lint typecheck pytest

# A 1280x800 PNG of each main page, signed in as each demo person, in docs/screenshots/
# (tools/screenshots.py: the demo server on a temporary database; the README shows them).
screenshots: install
	$(BIN)/python tools/screenshots.py

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .mypy_cache .ruff_cache
