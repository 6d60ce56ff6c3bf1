# `make demo`: a fresh venv, a generated demo corpus, indexed and explored (random-weight model;
#   VINDEX_DEMO_MODEL=ViT-B-32 make demo for real CLIP weights).
# `make test`: a fresh venv if needed, then the whole test suite.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
# torch goes in first, pinned: a bare `torch` requirement would make pip choose a multi-GB build.
TORCH ?= torch==2.14.1 torchvision==0.29.1

.PHONY: install demo test test-fast clean-demo

install: $(VENV)/.installed

$(VENV)/.installed: setup.cfg setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: install
	PATH="$(abspath $(VENV))/bin:$$PATH" bash scripts/demo.sh

test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not slow"

clean-demo:
	rm -rf demo
