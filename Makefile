# Two commands do everything on a fresh machine:
#   make run    set up, then run Steward on the shipped sample bulletins (serves Discord if DISCORD_TOKEN is set)
#   make test   set up, then run ruff and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test bench-quality bench-speed bench-robustness clean

$(BIN)/.steward-installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: otherwise pip would fetch a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/.steward-installed

run: setup
	$(BIN)/steward run

test: setup
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench-quality: setup
	$(BIN)/python -m bench.quality

bench-speed: setup
	$(BIN)/python -m bench.speed

bench-robustness: setup
	$(BIN)/python -m bench.robustness

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache
