# Two commands set everything up on a machine with only Python 3.11 and pip:
#   make run    creates the environment from uv.lock, then runs the main job
#   make test   creates the environment, then runs the test suite
PYTHON ?= python3
UV := $(PYTHON) -m uv
VENV_STAMP := .venv/.synced

# Prefect's telemetry insert can race its own SQLite start-up
# (../shared/NOTES.md), and a local run should not reach the internet.
export PREFECT_SERVER_ANALYTICS_ENABLED ?= false
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup run test lint format clean bench

setup: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml uv.lock
	@$(UV) --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet "uv>=0.9"
	$(UV) sync --frozen
	@touch $@

run: $(VENV_STAMP)
	$(UV) run --frozen lifecycle run

test: $(VENV_STAMP)
	$(UV) run --frozen pytest

lint: $(VENV_STAMP)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format: $(VENV_STAMP)
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

clean:
	rm -rf .venv .pytest_cache

bench: $(VENV_STAMP)
	$(UV) run --frozen python benchmarks/score_throughput.py
