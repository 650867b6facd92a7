# Fresh machine: `make demo` (set up + run the main job), `make test` (set up + run the tests).
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
# python3.10 on PATH (if it really runs: a pyenv shim may not), else the newest pyenv 3.10.
PYTHON310 ?= $(shell (python3.10 -c 'import sys; print(sys.executable)' 2>/dev/null) \
                || ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10*/bin/python3.10 2>/dev/null | tail -n 1)

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

clean:
	rm -rf out build .brainkit_cache
