# Set-up and checks. Everything lands in ./.venv; nothing is installed system-wide.
#   make demo    install, then answer a question about the bundled reports (embedded LLM, no Ollama needed)
#   make test    install with test extras, lint, build the docs, then run the whole test suite (what CI runs; about 20 min):
#                tests/unit first (stops at the first failure), then tests/integration and tests/e2e
#   make test-fast  tests/unit: the tests that load no real model and start no process (fakes; well under a minute)
#   make serve   install, then open the chat at http://127.0.0.1:7860 (rag serve)
#   make bench   print speed and memory figures beside their targets, LlamaIndex side by side, 20 users (~10 min)
#   make eval    score answers, citations and refusals on both bundled eval sets (writes eval-results/)
#   make docs    build the documentation site from docs/ (mkdocs --strict) into build/site/

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
QUESTION ?= What did Operation Sentinel seize?
# PyTorch is installed first, pinned (constraints.txt) and always the CPU build (rag/torch_cpu.py): the wheel pip
# resolves if it is a CPU build, else the same version from https://download.pytorch.org/whl/cpu. Extra pip
# arguments for that step, e.g. TORCH_PIP_ARGS="--index-url <your mirror of the CPU index>".
TORCH_PIP_ARGS ?=

.PHONY: demo test test-fast lint docs bench serve install install-test clean-venv

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PY) -m rag.torch_cpu $(TORCH_PIP_ARGS)
	$(PIP) install -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(PIP) install -c constraints.txt -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(VENV)/bin/rag ask "$(QUESTION)"

serve: install
	$(VENV)/bin/rag serve

# The folder is the tier (tests/conftest.py): tests/unit has fakes only; tests/integration the real embedder, models
# and indexes, the embedded LLM and CLI subprocesses; tests/e2e servers on loopback and the browser. The unit tier
# runs first and stops at its first failure, before the slow tiers start.
test: lint docs
	$(PY) -m pytest -x tests/unit
	$(PY) -m pytest tests/integration tests/e2e

test-fast: install-test
	$(PY) -m pytest tests/unit

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy rag ui eval embeddings

# --strict: a broken link or anchor, or a setting without a description (docs/hooks/settings_reference.py), fails.
docs: install-test
	PYTHONPATH=$(CURDIR) NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir $(CURDIR)/build/site

bench: install-test
	$(PY) bench/run.py --peer --load

eval: install
	$(VENV)/bin/rag eval --out eval-results/customs-reports
	$(VENV)/bin/rag eval --set squad2-normans --out eval-results/squad2-normans

clean-venv:
	rm -rf $(VENV)
