# Two entry points (see README): `make demo` and `make test`. Everything else is a helper target.
SHELL := /bin/bash
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo
# torch build: auto = cuda where an NVIDIA driver answers, cpu otherwise (`make test TORCH=cuda` forces one);
# each build has its own lock (constraints/torch-cpu.txt, constraints/torch-cuda.txt).
TORCH ?= auto
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

# Tesseract and its language packs for the OCR path (root, or sudo when available): English, Chinese
# (simplified and traditional), script detection (osd), the common Latin-script languages and Persian. A book
# in another language names its Tesseract code in the recipe (books: {x.pdf: {lang: [ara]}}); a missing pack
# is a warning naming the package to install.
TESS_LANGS := eng chi_sim chi_tra osd spa fra deu por ita fas
system-deps:
	@have=$$(tesseract --list-langs 2>/dev/null); missing=""; \
	for l in $(TESS_LANGS); do echo "$$have" | grep -qx "$$l" || missing="$$missing tesseract-ocr-$$(echo $$l | tr _ -)"; done; \
	if ! command -v tesseract >/dev/null || [ -n "$$missing" ]; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr $$missing >/dev/null; \
	fi

$(STAMP): pyproject.toml $(LOCK) constraints/torch-cpu.txt constraints/torch-cuda.txt constraints/install_torch.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c $(LOCK) --upgrade pip  # the venv's own pip predates --build-constraint
	bash constraints/install_torch.sh $(VENV) $(TORCH)
	$(PIP) -c $(VENV)/torch-lock.txt -e ".[train,review,ray,dev]"
	touch $(STAMP)

lint: setup
	$(BIN)/ruff check mmretinal_builder keepfit tests benchmarks

clean:
	rm -rf $(RUN) .pytest_cache
