# Two entry points for a newcomer (see README.md):
#   make book   builds the course website into _build/html
#   make test   runs every test: unit tests, doctests, notebooks under nbval, and the book build
# Both create .venv from requirements.txt on first use (and again whenever it changes).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# The offline CIFAR-10 copy the lab's tests and benchmark read (never committed; see
# ../shared/data/README.md). Override on the command line: make test KLDIV_CIFAR10=/path/to/it
KLDIV_CIFAR10 ?= $(abspath ../shared/data/cifar10-images.tar.gz)
export KLDIV_CIFAR10

# The browser the website tests drive (Debian's chromium, through Playwright). `make test` installs
# it when it is missing and the user is root (CI is); anyone else gets the command to run.
KLDIV_CHROMIUM ?= /usr/bin/chromium
export KLDIV_CHROMIUM

.PHONY: book test notebooks benchmark benchmark-gpu clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# Warnings are errors (-W), references are checked (-n) and every problem is reported before the
# build fails (--keep-going): a broken cross-reference must fail the build, not scroll past.
book: $(STAMP)
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going

test: $(STAMP) $(KLDIV_CHROMIUM)
	$(BIN)/python -m pytest

$(KLDIV_CHROMIUM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "The website tests need Chromium at $@: install it (Debian/Ubuntu: sudo apt-get install chromium)"; \
	  echo "or point KLDIV_CHROMIUM at a Chromium or Chrome binary."; exit 1; \
	fi

# Restart & Run All for every chapter, storing clean outputs (what nbval compares against).
notebooks: $(STAMP)
	$(BIN)/python tools/run_notebooks.py chapters/*.ipynb

benchmark: $(STAMP)
	$(BIN)/python benchmarks/rowwise_kl.py

# The lab's speed figures: classic vs fast CIFAR-10 recipe on one GPU (see benchmarks/).
benchmark-gpu: $(STAMP)
	$(BIN)/python benchmarks/cifar10_recipes.py

clean:
	rm -rf _build .pytest_cache .hypothesis
