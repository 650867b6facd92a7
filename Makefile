# Fresh machine: `make demo` (set up + run the main job), `make test` (set up + run the tests).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
LAVA  := .venv-lava

# The first interpreter of the versions given that really runs: on PATH (a pyenv shim may not
# run), else the newest pyenv install of that version.
find_python = $(shell for v in $(1); do \
    p=$$(command -v python$$v 2>/dev/null) && "$$p" -c 'import sys' 2>/dev/null && { echo "$$p"; exit; }; \
    p=$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$$v.*/bin/python$$v 2>/dev/null | sort -V | tail -n 1); \
    [ -n "$$p" ] && { echo "$$p"; exit; }; done)
# the core: Python >= 3.12 (3.12 first: brian2cuda pins brian2 2.10.1, which needs <= 3.12)
PYTHON_CORE ?= $(call find_python,3.12 3.13)
# Lava: lava-nc 0.10.0 (the last release) installs on Python 3.10 only
PYTHON_LAVA ?= $(call find_python,3.10)
PYTHON311   ?= $(call find_python,3.11)

.PHONY: venv venv-lava demo test test-all bench clean

$(VENV)/.installed: pyproject.toml
	@py="$(PYTHON_CORE)"; \
	if [ -z "$$py" ]; then \
	  echo "brainkit needs Python >= 3.12 (3.12 preferred)."; \
	  echo "Get it with pyenv: 'pyenv install 3.12' (or your OS package python3.12), then re-run make."; \
	  exit 1; fi; \
	if [ -x $(PY) ] && ! $(PY) -c 'import sys; assert sys.version_info >= (3, 12)' 2>/dev/null; then \
	  echo "$(VENV) was built with an older Python: building it again with $$py"; rm -rf $(VENV); fi; \
	[ -x $(PY) ] || "$$py" -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[cuda]'
	touch $@

# Lava's own environment: lava-nc 0.10.0, numpy < 2, and brainkit without its dependencies
# (only brainkit.exporters runs there: numpy and lava).
$(LAVA)/.installed: pyproject.toml
	@py="$(PYTHON_LAVA)"; \
	if [ -z "$$py" ]; then \
	  echo "Lava runs in its own environment on Python 3.10 (lava-nc 0.10.0, the last release,"; \
	  echo "installs on nothing newer). Get it with pyenv: 'pyenv install 3.10' (or your OS package"; \
	  echo "python3.10), then re-run make."; \
	  exit 1; fi; \
	[ -x $(LAVA)/bin/python ] || "$$py" -m venv $(LAVA)
	$(LAVA)/bin/python -m pip install -q --upgrade pip
	$(LAVA)/bin/python -m pip install -q lava-nc==0.10.0 'numpy>=1.24,<2'
	$(LAVA)/bin/python -m pip install -q --no-deps --ignore-requires-python -e .
	touch $@

venv: $(VENV)/.installed
venv-lava: $(LAVA)/.installed

demo: venv venv-lava
	$(PY) -m brainkit demo --out out --overwrite

test: venv venv-lava
	$(PY) -m pytest -q --durations=15

test-all: venv venv-lava
	$(PY) -m pytest -q -m ''

# Benchmarks: the peers live in their own Python 3.11 environment: PyTorch (the training peer),
# snnTorch and Norse (the NIR peers). Norse goes in without its declared torchvision (only its
# datasets use it, and it would pull a multi-GB CUDA build of torch).
.venv-bench/.installed:
	"$(firstword $(PYTHON311))" -m venv .venv-bench
	.venv-bench/bin/pip install -q torch==2.13.0 numpy
	.venv-bench/bin/pip install -q snntorch==1.0.0 nir==1.0.8 nirtorch==2.6
	.venv-bench/bin/pip install -q --no-deps norse==1.1.0
	touch $@

bench: venv venv-lava .venv-bench/.installed
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_lava.py
	$(PY) benchmarks/bench_networks.py --out out/bench_networks
	$(PY) benchmarks/nir_peers.py --out out/nir_peers/results.json

clean:
	rm -rf out build .brainkit_cache
