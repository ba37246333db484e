# The README's two commands: `make demo` and `make test`. Both work from a fresh clone:
# they create .venv and install the Python and npm packages they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_PORT ?= 8765
DATASETTE_PORT ?= 8001

.PHONY: demo test install clean bench screenshots

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

test: install
	$(BIN)/python -m pytest

var/demo-world.json: $(VENV)/.installed
	mkdir -p var
	$(BIN)/civicbot sandbox generate --seed 1 --scale 1 -o $@

# The demo: the simulator on a generated world, a harvest of it, every metric, a dry-run triage,
# then the Datasette site on the database. DEMO_PORT must match config/demo.yml's base_url.
demo: $(VENV)/.installed var/demo-world.json
	@mkdir -p var && rm -f var/sim.url
	@$(BIN)/civicbot sandbox serve --world var/demo-world.json --port $(DEMO_PORT) --url-file var/sim.url \
		> var/sim.log 2>&1 & sim=$$!; \
	trap "kill $$sim 2>/dev/null" EXIT INT TERM; \
	for i in $$(seq 100); do test -s var/sim.url && break; sleep 0.1; done; \
	test -s var/sim.url || { cat var/sim.log; exit 1; }; \
	echo "GitHub simulator: $$(cat var/sim.url) (world var/demo-world.json)"; \
	CIVICBOT_DEMO_TOKEN=sandbox-token $(BIN)/civicbot harvest -c config/demo.yml && \
	$(BIN)/civicbot metrics -c config/demo.yml && \
	{ CIVICBOT_DEMO_TOKEN=sandbox-token $(BIN)/civicbot triage -c config/demo.yml && \
	  CIVICBOT_DEMO_TOKEN=sandbox-token $(BIN)/civicbot label -c config/demo.yml || echo "(triage skipped)"; } && \
	echo "Datasette: http://127.0.0.1:$(DATASETTE_PORT)/ (Ctrl-C to stop)" && \
	$(BIN)/civicbot serve -c config/demo.yml --port $(DATASETTE_PORT)

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
