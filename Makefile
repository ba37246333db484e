# The README's two commands: `make demo` and `make test`. Both work from a fresh clone:
# they create .venv and install the Python and npm packages they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_PORT ?= 8765

.PHONY: demo test install clean bench

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

demo: $(VENV)/.installed var/demo-world.json
	@echo "civicbot demo: the harvester is not built yet, so this serves the GitHub simulator only"
	@echo "on a generated Tokyo-shaped world. Try: curl http://127.0.0.1:$(DEMO_PORT)/repos/Tokyo-Metro-Gov/covid19"
	$(BIN)/civicbot sandbox serve --world var/demo-world.json --port $(DEMO_PORT)

clean:
	rm -rf var .pytest_cache

# Benchmarks (figures in docs/performance.md): `make bench` or `make bench SCALES=1,10`.
SCALES ?= 1,10,100
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks --scales $(SCALES)
