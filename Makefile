# The README's two commands: `make demo` and `make test`. Both work from a fresh clone:
# they create .venv and install the Python and npm packages they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_PORT ?= 8765
DATASETTE_PORT ?= 8001
DEMO_WAIT ?= 60

.PHONY: demo demo-npm test install clean bench screenshots

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# GitHub's OpenAPI description and recorded GitHub responses, for the conformance tests.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The demo simulator answers GraphQL against GitHub's published schema (npm): without npm it
# serves REST only, and the harvest then asks REST about every repo.
demo-npm:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory node_modules/.installed; \
	else echo "npm not found: the simulator serves REST only (no GraphQL), so the demo's harvest uses REST for every repo"; fi

test: install
	$(BIN)/python -m pytest

var/demo-world.json: $(VENV)/.installed
	@echo "generating the demo world (var/demo-world.json)..."
	@mkdir -p var
	$(BIN)/civicbot sandbox generate --seed 1 --scale 1 -o $@

# The demo: the simulator on a generated world, a harvest of it, every metric, a dry-run triage,
# then the Datasette site on the database. The steps read var/demo.yml: config/demo.yml with its
# base_url set to the simulator's URL, so DEMO_PORT is the only thing to change when 8765 is taken.
# Loading the world takes the simulator about 6 s of CPU, much longer on a loaded machine: it gets
# DEMO_WAIT seconds, then its log is shown with what to try.
demo: $(VENV)/.installed var/demo-world.json demo-npm
	@mkdir -p var && rm -f var/sim.url var/demo.yml
	@PYTHONUNBUFFERED=1 $(BIN)/civicbot sandbox serve --world var/demo-world.json --port $(DEMO_PORT) \
		--url-file var/sim.url > var/sim.log 2>&1 & sim=$$!; \
	trap "kill $$sim 2>/dev/null" EXIT INT TERM; \
	printf "waiting for the GitHub simulator..."; \
	end=$$(( $$(date +%s) + $(DEMO_WAIT) )); \
	while ! test -s var/sim.url && kill -0 $$sim 2>/dev/null && [ $$(date +%s) -lt $$end ]; do \
		printf .; sleep 2; done; echo; \
	if ! test -s var/sim.url; then \
		echo "--- the end of var/sim.log ---"; tail -n 20 var/sim.log; echo "---"; \
		if kill -0 $$sim 2>/dev/null; then \
			echo "the simulator did not start within $(DEMO_WAIT) s: see var/sim.log above. Still loading the"; \
			echo "world on a busy machine? Give it longer: make demo DEMO_WAIT=180"; \
		else \
			echo "the simulator stopped before it was ready: see var/sim.log above. Is port $(DEMO_PORT) in use?"; \
			echo "Try another one: make demo DEMO_PORT=8766 (the harvest follows the simulator's port;"; \
			echo "DATASETTE_PORT=8002 moves the site likewise)"; \
		fi; \
		exit 1; fi; \
	url=$$(cat var/sim.url); \
	sed "s#^\(  base_url:\).*#\1 $$url#" config/demo.yml > var/demo.yml; \
	grep -q "^  base_url: $$url$$" var/demo.yml || { echo "cannot set base_url in var/demo.yml"; exit 1; }; \
	echo "GitHub simulator: $$url (world var/demo-world.json, log var/sim.log)"; \
	echo "harvesting the demo family from the simulator into var/demo.db (about 1,800 requests)..."; \
	CIVICBOT_DEMO_TOKEN=sandbox-token $(BIN)/civicbot harvest -c var/demo.yml && \
	echo "computing metrics..." && \
	$(BIN)/civicbot metrics -c var/demo.yml && \
	echo "triage (dry run)..." && \
	{ CIVICBOT_DEMO_TOKEN=sandbox-token $(BIN)/civicbot triage -c var/demo.yml && \
	  CIVICBOT_DEMO_TOKEN=sandbox-token $(BIN)/civicbot label -c var/demo.yml || echo "(triage skipped)"; } && \
	$(BIN)/civicbot serve -c var/demo.yml --port $(DATASETTE_PORT)

clean:
	rm -rf var .pytest_cache

# Benchmarks (figures in docs/performance.md): `make bench`, or e.g. `make bench SCALES=1,10`
# (without SCALES each benchmark uses its documented default sizes).
SCALES ?=
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks $(if $(SCALES),--scales $(SCALES))

# Screenshots of each dashboard on demo data, for the README (needs Debian's chromium).
screenshots: $(VENV)/.installed
	$(BIN)/python docs/screenshots.py
