# Two entry points (see README): `make demo` and `make test`. Everything else is a helper target.
SHELL := /bin/bash
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo
TORCH_SPEC ?= torch torchvision
STAMP := $(VENV)/.installed
# Every package version (pip itself, build backends, torch) comes from the committed lock: a new release on a
# registry cannot change what a fresh clone installs. The Label Studio server's venv has its own lock
# (constraints/label-studio.txt, used by `mmretinal review serve`).
LOCK := constraints/dev.txt
PIP := $(BIN)/python -m pip install -q -c $(LOCK) --build-constraint $(LOCK)

.PHONY: demo test setup system-deps lint bench-cpu clean

## demo: install everything, build the dataset from the bundled sample books, train a few steps, evaluate
demo: setup
	bash pipelines/demo.sh "$(RUN)"

## test: install everything and run the whole test suite (what CI runs)
test: setup
	$(BIN)/ruff check mmretinal_builder keepfit tests benchmarks
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests

setup: system-deps $(STAMP)

# Tesseract with English and Simplified Chinese for the OCR path (root, or sudo when available).
system-deps:
	@if ! command -v tesseract >/dev/null || ! tesseract --list-langs 2>/dev/null | grep -q chi_sim; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim >/dev/null; \
	fi

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c $(LOCK) --upgrade pip  # the venv's own pip predates --build-constraint
	$(PIP) $(TORCH_SPEC)
	$(PIP) -e ".[train,review,ray,dev]"
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check mmretinal_builder keepfit tests benchmarks

clean:
	rm -rf $(RUN) .pytest_cache
