# Every chore in one place. `make up` and `make test` are the two commands in the README.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip

.PHONY: up test test-fast lint bench install install-test clean web web-types sandbox-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# anvil (the embedded chain) and OpenZeppelin's merkle-tree come from npm, pinned by package-lock.json
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed (apt-get install nodejs npm)"; exit 1; }
	npm install --no-audit --no-fund --loglevel=error  # not `npm ci`: the lock lists anvil's other-platform builds incompletely

# the web app (web/, Vite): built into the package's web_dist/, which `datacoop up` serves at /
web:  ## build the browser app (npm packages pinned by web/package-lock.json)
	@command -v npm >/dev/null || { echo "npm is needed (apt-get install nodejs npm)"; exit 1; }
	npm --prefix web ci --no-audit --no-fund --loglevel=error
	npm --prefix web run build

# the web app's API types: web/openapi.json (this version's /openapi.json) -> web/src/api.gen.ts (openapi-typescript)
web-types: install-test
	$(BIN)/datacoop openapi --output web/openapi.json
	cd web && npx --no-install openapi-typescript openapi.json -o src/api.gen.ts

# compute-to-data jobs run under bubblewrap with a libseccomp filter (Debian's packages); without them no job runs
sandbox-deps:
	@{ command -v bwrap >/dev/null && /usr/bin/python3 -c 'import seccomp' 2>/dev/null; } \
	  || { command -v apt-get >/dev/null && { apt-get update -q >/dev/null || true; } \
	       && apt-get install -y -q bubblewrap python3-seccomp; } \
	  || echo "warning: compute jobs need bubblewrap and python3-seccomp (apt-get install bubblewrap python3-seccomp)" >&2

# torch first, pinned: that takes the CPU build on this kind of machine (resolved later, it pulls CUDA's GBs)
install: $(BIN)/python node_modules/.package-lock.json web sandbox-deps
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[pipeline,models]'

# Flower (federated learning) pins fastapi, starlette, typer and uvicorn below DataCoop's: the tests take
# flwr without its dependency list, plus the few packages its client/server API imports.
FLWR_NO_DEPS := flwr==1.41.0 grpcio grpcio-health-checking 'protobuf<7' 'iterators<0.0.3' tomli tomli_w

install-test: $(BIN)/python node_modules/.package-lock.json web sandbox-deps
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test]'
	$(PIP) install --quiet --no-deps $(FLWR_NO_DEPS)

up: install  ## install DataCoop and run it on its embedded default (Ctrl-C stops it)
	$(BIN)/datacoop up $(ARGS)

test: install-test  ## install the test extras and run every test (PostgreSQL too where one answers)
	$(BIN)/pytest -n 4 --dist loadgroup $(PYTEST_ARGS)

test-fast: install-test  ## skip the slow tests (1 GiB upload, several-hundred-MiB CID)
	$(BIN)/pytest -n 4 --dist loadgroup -m "not slow" $(PYTEST_ARGS)

lint: install-test  ## ruff, mypy --strict and the import contracts (lint-imports)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install-test  ## benchmarks, JSON on stdout
	$(BIN)/python benchmarks/cid.py --json
	$(BIN)/python benchmarks/merkle.py --json
	$(BIN)/python benchmarks/gas.py --json
	$(BIN)/python benchmarks/neardup.py --json
	$(BIN)/python benchmarks/ingest.py --json
	$(BIN)/python benchmarks/relevance.py --json
	$(BIN)/python benchmarks/consensus.py --json
	$(BIN)/python benchmarks/export.py --json
	$(BIN)/python benchmarks/compute.py --json
	$(BIN)/python benchmarks/startup.py --json
	$(BIN)/python benchmarks/load.py --json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
