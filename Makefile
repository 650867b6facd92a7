# Fresh machine: `make demo` (set up + run the main job), `make test` (set up + run the tests).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
# python3.10 on PATH (if it really runs: a pyenv shim may not), else the newest pyenv 3.10.
PYTHON310 ?= $(shell (python3.10 -c 'import sys; print(sys.executable)' 2>/dev/null) \
                || ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10*/bin/python3.10 2>/dev/null | tail -n 1)

PYTHON311 ?= $(shell (python3.11 -c 'import sys; print(sys.executable)' 2>/dev/null) \
                || ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.11*/bin/python3.11 2>/dev/null | tail -n 1)

.PHONY: venv demo test test-all bench clean

$(VENV)/.installed: pyproject.toml
	@py="$(firstword $(PYTHON310))"; \
	if [ -z "$$py" ] || ! "$$py" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then \
	  echo "brainkit needs Python 3.10 (lava-nc 0.10.0 installs on nothing newer)."; \
	  echo "Get it with pyenv: 'pyenv install 3.10' (or your OS package python3.10), then re-run make."; \
	  exit 1; fi; \
	[ -x $(PY) ] || "$$py" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(PY) -m brainkit demo --out out

test: venv
	$(PY) -m pytest -q

test-all: venv
	$(PY) -m pytest -q -m ''

# Benchmarks: PyTorch (the training peer) lives in its own Python 3.11 environment.
.venv-bench/.installed:
	"$(firstword $(PYTHON311))" -m venv .venv-bench
	.venv-bench/bin/pip install -q torch==2.13.0 numpy
	touch $@

bench: venv .venv-bench/.installed
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_lava.py
	$(PY) benchmarks/bench_networks.py --out out/bench_networks

clean:
	rm -rf out build .brainkit_cache
