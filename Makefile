# GridSafe developer commands. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
VENDOR := pwa/static/vendor/htmx.min.js
SCANNER := pwa/static/vendor/jsQR.js
MAPLIB := pwa/static/vendor/leaflet/leaflet.js
MAPCSS := pwa/static/vendor/leaflet/leaflet.css
ESBUILD := node_modules/.bin/esbuild
BUILT := pwa/build/.built
# Message catalogues (gettext): the .po files are the source, the .mo files are built from them.
LOCALE_DIR := backend/i18n/locale
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard $(LOCALE_DIR)/*/LC_MESSAGES/messages.po))
# Our own scripts and stylesheets, and the vendor files their packages do not ship minified.
MINIFY := $(wildcard pwa/static/js/*.js pwa/static/css/*.css) $(SCANNER) $(MAPCSS)

.DEFAULT_GOAL := help
.PHONY: help setup build messages translations run test lint format typecheck check migration bench bench-qr clean bench-push bench-escalation bench-warnings bench-risk bench-load bench-pages screenshots

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "GridSafe needs Python 3.11 or newer")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

$(VENDOR): node_modules/.package-lock.json
	mkdir -p pwa/static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js $@
	cp node_modules/htmx.org/LICENSE pwa/static/vendor/htmx.LICENSE

# The in-app QR scanner's decoder (this Chromium has no BarcodeDetector).
$(SCANNER): node_modules/.package-lock.json
	mkdir -p pwa/static/vendor
	cp node_modules/jsqr/dist/jsQR.js $@
	cp node_modules/jsqr/LICENSE pwa/static/vendor/jsQR.LICENSE

# The risk map (Leaflet): script, stylesheet and the marker/layer images its CSS points at.
$(MAPLIB): node_modules/.package-lock.json
	mkdir -p pwa/static/vendor/leaflet/images
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css pwa/static/vendor/leaflet/
	cp node_modules/leaflet/dist/images/*.png pwa/static/vendor/leaflet/images/
	cp node_modules/leaflet/LICENSE pwa/static/vendor/leaflet/LICENSE

$(MAPCSS): $(MAPLIB) ;

# Minified copies, served under content-hashed names (backend/assets.py); the sources stay as
# they are, and a source edited after the build is served as it is until the next build.
$(BUILT): $(MINIFY) $(VENDOR) node_modules/.package-lock.json
	rm -rf pwa/build
	$(ESBUILD) $(MINIFY) --minify --outbase=pwa/static --outdir=pwa/build/static --log-level=warning
	touch $@

%.mo: %.po $(STAMP)
	$(BIN)/pybabel --quiet compile --input-file $< --output-file $@

messages: $(STAMP) ## Extract the message keys the code and templates use into messages.pot and update both languages' .po files (then fill in the new empty msgstr)
	$(BIN)/python -m backend.i18n.messages

translations: $(CATALOGUES) ## Compile the .po message catalogues to .mo (part of build and setup)

build: $(BUILT) $(CATALOGUES) ## Minify our scripts and stylesheets and the vendor files into pwa/build, compile the translations (part of setup)

setup: $(STAMP) $(VENDOR) $(SCANNER) $(MAPLIB) $(BUILT) $(CATALOGUES) ## Create the virtual environment, install Python and front-end packages, build the front end

run: setup ## Set up, migrate, load demo data on first run, serve on http://127.0.0.1:8000 with a worker
	$(BIN)/gridsafe run

test: setup ## Set up and run the whole test suite (SQLite, PostgreSQL, Redis, Chromium)
	$(BIN)/pytest

lint: setup ## Check code style (ruff lint and format)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## Reformat the code with ruff
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: setup ## Type-check backend, sync and qr with mypy (strict)
	$(BIN)/mypy

check: lint typecheck test ## Everything CI runs

migration: setup ## Generate a migration from model changes: make migration m="what changed"
	GRIDSAFE_DATA_DIR=$$(mktemp -d) sh -c '$(BIN)/gridsafe migrate && $(BIN)/alembic revision --autogenerate -m "$(m)"'

bench: setup ## Benchmark sync push/pull on SQLite and PostgreSQL against pouchdb-server in memory and on disk (prints tables, ~2.5 min)
	$(BIN)/python bench/sync_bench.py $(BENCH_ARGS)

bench-qr: setup ## Benchmark QR codes: PNG/SVG codes per second, print sheet of a 200-enterprise grid
	$(BIN)/python bench/qr_bench.py $(BENCH_QR_ARGS)

bench-push: setup ## Benchmark web-push fan-out (1,000 and 10,000 devices) and commit-to-arrival latency
	$(BIN)/python bench/push_bench.py $(BENCH_PUSH_ARGS)

bench-escalation: setup ## Benchmark one escalation sweep: 1,000 due among 100,000 open hazards (SQLite, PostgreSQL)
	$(BIN)/python bench/escalation_bench.py $(BENCH_ESCALATION_ARGS)

bench-warnings: setup ## Benchmark one targeted warning: send to the last of 10,000 pushes at the loopback receiver
	$(BIN)/python bench/warning_bench.py $(BENCH_WARNINGS_ARGS)

bench-risk: setup ## Benchmark risk grading: recompute 100,000 profiles, one incremental update (SQLite, PostgreSQL)
	$(BIN)/python bench/risk_bench.py $(BENCH_RISK_ARGS)

bench-load: setup ## Load test: 256 connections for 60 s of a city's morning (public cards, pages, sync, photos) on SQLite and PostgreSQL (~5 min)
	$(BIN)/python bench/load_bench.py $(BENCH_LOAD_ARGS)

bench-pages: setup ## Page speed: wrk on five busy pages against a floor Litestar app, req/s, p50, p99 and the target (~1.5 min)
	$(BIN)/python bench/pages_bench.py $(BENCH_PAGES_ARGS)

screenshots: setup ## Photograph each role's main screens at 360×740 from the running demo app into docs/screenshots/ and docs/screens.md (Chromium)
	$(BIN)/python docs/screenshots.py $(SCREENSHOTS_ARGS)

clean: ## Remove the virtual environment, node_modules and caches (keeps ./data)
	rm -rf $(VENV) node_modules bench/peer/node_modules pwa/static/vendor pwa/build .pytest_cache .mypy_cache .ruff_cache $(CATALOGUES)
