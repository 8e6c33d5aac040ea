# Two commands set up a fresh machine: `make demo` and `make test` (see README.md).
PYTHON_VERSION := $(shell cat .python-version)
PY_BOOT := $(shell command -v python$(PYTHON_VERSION) 2>/dev/null || (command -v pyenv >/dev/null && pyenv which python$(PYTHON_VERSION) 2>/dev/null) || echo python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-all validate validate-dln validate-global validate-networks lint format bench docs clean

venv: $(STAMP)

$(STAMP): pyproject.toml .python-version
	$(PY_BOOT) -c 'import sys; assert sys.version_info >= (3, 12), f"slt needs Python >= 3.12, got {sys.version}"'
	$(PY_BOOT) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p results
	$(VENV)/bin/slt validate --suite quick --json results/quick.json --report results/quick.md

# The suite compiles hundreds of small programs. At XLA's backend optimization level 0 they compile
# two to three times faster (bench/compile_time.py): 6.5 instead of 9 minutes on 2 cores. The level
# changes how LLVM optimizes the CPU code, not what it computes (the last float digits may differ).
# Only the test targets set it; `slt` and the other targets run with XLA's defaults.
TEST_XLA_FLAGS := $(XLA_FLAGS) --xla_backend_optimization_level=0

test: $(STAMP)
	XLA_FLAGS="$(TEST_XLA_FLAGS)" $(PY) -m pytest -n 2 -q

test-all: $(STAMP)
	XLA_FLAGS="$(TEST_XLA_FLAGS)" $(PY) -m pytest -n 2 -q -m "not validation"

validate: $(STAMP)
	mkdir -p results
	$(VENV)/bin/slt validate --suite rrr --json results/rrr.json --report results/rrr.md
	$(VENV)/bin/slt validate --suite networks --json results/networks.json --report results/networks.md
	$(MAKE) validate-dln

# 22 random deep linear networks, 10^3 to 10^5 parameters, both samplers, with the scatter of
# estimated against exact λ (docs/validation.md). About 90 minutes per sampler on 2 shared cores
# (3 hours in all); also run by `validate`.
validate-dln: $(STAMP)
	mkdir -p results
	$(VENV)/bin/slt validate --suite dln --json results/dln.json --report results/dln.md --plot results/dln.png

# The global RLCT of every exact family and the free energy's growth in n (docs/global.md).
validate-global: $(STAMP)
	mkdir -p results
	$(VENV)/bin/slt validate-global --suite global --llc-agreement --json results/global.json --report results/global.md
	$(VENV)/bin/slt validate-ti --json results/ti.json

# No exact values: ReLU rescaling invariance, a digits CNN, a modular-addition Transformer
# (docs/networks.md). About 6 minutes on 2 cores (5 of them the CNN); also run by `validate`.
validate-networks: $(STAMP)
	mkdir -p results
	$(VENV)/bin/slt validate --suite networks --json results/networks.json --report results/networks.md

lint: $(STAMP)
	$(VENV)/bin/ruff check slt tests bench validation
	$(VENV)/bin/ruff format --check slt tests bench validation
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix slt tests bench validation
	$(VENV)/bin/ruff format slt tests bench validation

bench: $(STAMP)
	$(PY) bench/sgld_overhead.py

# The API reference from the docstrings (pdoc, numpy format, math): docs/api/index.html.
# pdoc follows a package's __all__, and slt's names only exact and models, so every public
# module and subpackage is named too; the warnings that this names some module twice are silenced.
# The formulas are typeset by MathJax from a CDN when a page is opened (offline: TeX source).
DOC_MODULES = $(shell find slt -mindepth 2 -name __init__.py | sed 's|/__init__.py$$||' | sort) \
	$(shell find slt -name '*.py' ! -name '_*' | sort)

docs: $(STAMP)
	rm -rf docs/api
	PYTHONWARNINGS='ignore:The module specification:UserWarning' \
		$(VENV)/bin/pdoc --docformat numpy --math -o docs/api slt $(DOC_MODULES)

clean:
	rm -rf $(VENV) results docs/api .pytest_cache .mypy_cache .ruff_cache
