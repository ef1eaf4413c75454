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

# axe-core, the accessibility checker the website tests run in every page (WCAG 2.1 A/AA), from the
# npm registry at an exact version, checked against the registry's sha512 before it is unpacked into
# .axe/ (git-ignored). To upgrade: `npm view axe-core@X dist.integrity`, then edit both lines.
AXE_VERSION   := 4.14.1
AXE_INTEGRITY := sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ==
KLDIV_AXE     ?= $(abspath .axe/axe-core-$(AXE_VERSION)/axe.min.js)
export KLDIV_AXE

# MathJax, which typesets the website's math at build time (tools/prerender_math.mjs, run by
# _ext/prerender_math.py at the end of every `jupyter-book build`): the npm package mathjax-full at
# an exact version, the same MathJax the pages loaded before, checked against the registry's sha512
# and unpacked into .mathjax/ (git-ignored). Node.js runs it (Debian: apt-get install nodejs npm).
MATHJAX_VERSION   := 3.2.2
MATHJAX_INTEGRITY := sha512-+LfG9Fik+OuI8SLwsiR02IVdjcnRCy5MufYLi0C3TdMT56L/pjB0alMVGgoWJF8pN9Rc7FESycZB9BMNWIid5w==
KLDIV_MATHJAX     ?= $(abspath .mathjax/mathjax-full-$(MATHJAX_VERSION))
export KLDIV_MATHJAX

# poppler-utils' pdftoppm and pdftotext: tests/test_pdf.py renders the printed book page by page.
PDFTOPPM ?= /usr/bin/pdftoppm

# Debian's bubblewrap: assignments/kit.py grades every submission inside it (tests/test_assignments.py),
# and Debian's python3-venv, which tests/test_grading_gradescope.py builds the Gradescope
# autograder's environment with, as Gradescope's image does.
BWRAP ?= /usr/bin/bwrap
export BWRAP

.PHONY: book test notebooks benchmark benchmark-gpu clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

# Warnings are errors (-W), references are checked (-n) and every problem is reported before the
# build fails (--keep-going): a broken cross-reference must fail the build, not scroll past.
# The website's download menu offers the whole book as one PDF, printed from the built site by
# Chromium (tools/build_pdf.py: title page, contents, page numbers, bookmarks, no solutions).
book: $(STAMP) $(KLDIV_CHROMIUM) $(KLDIV_MATHJAX)/package.json
	$(BIN)/jupyter-book build . --warningiserror --nitpick --keep-going
	$(BIN)/python tools/build_pdf.py --site _build/html --output _build/html/kl-divergence-course.pdf

# Two pytest-xdist workers, one per core of the course's machines (tests/conftest.py says how the
# tests are shared out); TEST_WORKERS=0 runs everything in one process.
TEST_WORKERS ?= 2

test: $(STAMP) $(KLDIV_CHROMIUM) $(KLDIV_AXE) $(KLDIV_MATHJAX)/package.json $(PDFTOPPM) $(BWRAP)
	$(BIN)/python -m pytest -n $(TEST_WORKERS)

$(PDFTOPPM):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils >/dev/null; \
	else \
	  echo "The PDF tests need pdftoppm at $@: install it (Debian/Ubuntu: sudo apt-get install poppler-utils)"; \
	  echo "or point PDFTOPPM at it."; exit 1; \
	fi

$(BWRAP):
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap python3-venv >/dev/null; \
	else \
	  echo "The assignment grader needs bubblewrap at $@: install it (Debian/Ubuntu: sudo apt-get install bubblewrap python3-venv)"; \
	  echo "or point BWRAP at it."; exit 1; \
	fi

$(KLDIV_AXE):
	tools/fetch_npm.sh axe-core $(AXE_VERSION) $(AXE_INTEGRITY) $(dir $@) axe.min.js LICENSE

# Only the CommonJS modules (js/), package.json and the licence: the 9 MB MathJax needs in Node.
# Its npm dependencies are not installed: the modules this build loads (TeX with base, ams,
# newcommand and configmacros; CHTML; the lite DOM adaptor; assistive MathML) require none of them.
$(KLDIV_MATHJAX)/package.json:
	tools/fetch_npm.sh mathjax-full $(MATHJAX_VERSION) $(MATHJAX_INTEGRITY) $(KLDIV_MATHJAX) js LICENSE package.json

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

# The lab's GPU figures in one command (benchmarks/gpu_check.py, at most 8 minutes on one GPU): it
# refuses a CPU (exit status 2); `make benchmark-gpu GPU_CHECK_ARGS=--rehearse` runs its smoke
# rehearsal on a CPU, as tests/test_gpu_check.py does. It needs a GPU build of a Keras backend, e.g.
# `.venv/bin/pip install 'jax[cuda12]'` and KERAS_BACKEND=jax (README, "The GPU lab").
GPU_CHECK_ARGS ?=
benchmark-gpu: $(STAMP)
	$(BIN)/python benchmarks/gpu_check.py --data $(KLDIV_CIFAR10) --out _build/gpu_check/results.json $(GPU_CHECK_ARGS)

clean:
	rm -rf _build .pytest_cache .hypothesis
