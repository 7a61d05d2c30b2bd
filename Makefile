# One target per chore. Every target installs what it needs on first use and is
# quick when nothing changed. Two installs, each with its own stamp in .venv (redone
# when pyproject.toml is newer than the stamp, and only written when pip succeeded):
#   the learner's (`demo`, `lab`): the course, JupyterLab and nbgrader;
#   ours (`test`, `lint`, `bench`, `release`, `grade`...): that plus the [dev] and
#   [grader] extras (pytest, ruff, Playwright, Dask...).
# tools/venv_check.py runs first: it checks PYTHON against requires-python before
# making .venv, and stops with the commands to run when .venv is broken or was made
# by another Python.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
LEARNER_STAMP := $(VENV)/.installed-learner
DEV_STAMP := $(VENV)/.installed-dev
PYTEST_ARGS ?=
GRADE_ARGS ?=
# The user named PYTHON (command line or environment): .venv must be made by it.
PYTHON_EXPLICIT := $(if $(filter file default,$(origin PYTHON)),,--explicit)

export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg
NOTEBOOK := Improvise_a_Jazz_Solo_with_an_LSTM.ipynb

.PHONY: hub hub-env hub-stop install install-dev venv test test-all lint format corpus bench clean demo lab browser-deps audio-deps release grade

install: $(LEARNER_STAMP)  ## create .venv and install what a learner needs (demo, lab)

install-dev: $(DEV_STAMP)  ## create .venv and install the package with the [dev] and [grader] extras

venv:
	@command -v $(PYTHON) >/dev/null || { echo "make: PYTHON=$(PYTHON) is not a command;" \
		"run make $(or $(firstword $(MAKECMDGOALS)),install) PYTHON=python3.X with a Python that" \
		"pyproject.toml's requires-python allows" >&2; exit 2; }
	@$(PYTHON) tools/venv_check.py --venv $(VENV) --python-name "$(PYTHON)" \
		--goal "$(or $(firstword $(MAKECMDGOALS)),install)" $(PYTHON_EXPLICIT)

# pip with its own progress in a terminal, and a line every 10 s of silence in a log.
PIP_INSTALL := $(BIN)/python tools/heartbeat.py -- $(BIN)/python -m pip install

# The stamps are removed before pip starts and written after it succeeds, so a failed
# or interrupted install is redone by the next make.
$(LEARNER_STAMP): pyproject.toml | venv
	@rm -f $(LEARNER_STAMP)
	@echo "Installing the course into $(VENV): TensorFlow, Keras, music21, JupyterLab, nbgrader."
	@echo "  Measured on a fresh 2-core machine: about 2 min and 2.6 GB in $(VENV). pip's own progress follows."
	$(PIP_INSTALL) -e .
	@touch $(LEARNER_STAMP)

# The dev install is a superset of the learner's, so it writes both stamps. The
# distribution ships jazz_utils only; the grader runs from this checkout, which a .pth
# file puts on the venv's path (nbgrader's course configuration imports grader from
# course/ and from temporary folders).
$(DEV_STAMP): pyproject.toml | venv
	@rm -f $(LEARNER_STAMP) $(DEV_STAMP)
	@echo "Installing the course with its test, lint and grading tools into $(VENV) ([dev] and [grader] extras)."
	@echo "  Measured on a fresh 2-core machine: about 3 min and 2.9 GB in $(VENV). pip's own progress follows."
	$(PIP_INSTALL) -e ".[dev]"
	$(BIN)/python -c 'import sys, sysconfig, pathlib; pathlib.Path(sysconfig.get_path("purelib"), "jazz_solo_checkout.pth").write_text(sys.argv[1] + "\n")' "$(CURDIR)"
	@touch $(LEARNER_STAMP) $(DEV_STAMP)

# Debian's Chromium for tests/test_browser.py. Playwright (a dev extra) drives it
# at /usr/bin/chromium; `playwright install` is never run: it would download a browser.
browser-deps:  ## Debian's headless Chromium for the browser test (apt-get, as root)
	@if [ -x /usr/bin/chromium ]; then \
		echo "browser-deps: $$(/usr/bin/chromium --version 2>/dev/null || echo chromium) at /usr/bin/chromium"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "browser-deps: installing Debian's chromium with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; \
	else \
		echo "browser-deps: /usr/bin/chromium is missing; install it as root:" \
			"apt-get install --no-install-recommends chromium (the browser test fails without it)" >&2; \
	fi

# FluidSynth and the FluidR3 General MIDI soundfont, for the audio engine's
# FluidSynth path (jazz_utils.audio falls back to its own synthesizer without them).
audio-deps:  ## FluidSynth and a GM soundfont (apt-get, as root)
	@if command -v fluidsynth >/dev/null && [ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ]; then \
		echo "audio-deps: fluidsynth and FluidR3_GM.sf2 present"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "audio-deps: installing fluidsynth and fluid-soundfont-gm with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends fluidsynth fluid-soundfont-gm >/dev/null; \
	else \
		echo "audio-deps: fluidsynth is missing; its tests will be skipped. As root:" \
			"apt-get install --no-install-recommends fluidsynth fluid-soundfont-gm" >&2; \
	fi

# In CI the FluidSynth tests must run, not skip.
test test-all: export JAZZ_UTILS_REQUIRE_FLUIDSYNTH := $(if $(CI),1,)

test: $(DEV_STAMP) browser-deps audio-deps  ## the CI suite: everything but tests marked slow
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(DEV_STAMP) browser-deps audio-deps  ## every test, slow ones included
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(DEV_STAMP)  ## ruff, and notebooks stored without outputs
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(DEV_STAMP)  ## rewrite code in the project's style
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: $(LEARNER_STAMP)  ## train on the bundled corpus and write the solo, audio, piano roll, notebook to output/
	mkdir -p output
	JAZZ_OUTPUT_DIR=$(CURDIR)/output $(BIN)/python tools/notebook_runner.py \
		solutions/$(NOTEBOOK) --output output/$(NOTEBOOK) --cwd $(CURDIR)
	@ls -l output

# A learner's Jupyter configuration (jupyter_config/learner): nbgrader's Assignment List
# and Validate; no formgrader, course list or create-assignment toolbar.
LEARNER_JUPYTER_CONFIG := $(CURDIR)/jupyter_config/learner

lab: $(LEARNER_STAMP)  ## JupyterLab on the student notebooks, as a learner sees it (Validate, no formgrader)
	JUPYTER_CONFIG_PATH="$(LEARNER_JUPYTER_CONFIG)$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH}" \
		$(BIN)/jupyter lab --notebook-dir=notebooks

corpus: $(DEV_STAMP)  ## regenerate the bundled études in jazz_utils/data (MIDI, manifest.json, README.md)
	$(BIN)/python -m jazz_utils.etudes

bench: $(DEV_STAMP)  ## benchmarks that print measured ratios (not part of the tests)
	$(BIN)/python bench/first_solo.py
	$(BIN)/python bench/data.py
	$(BIN)/python bench/audio.py
	$(BIN)/python bench/grading.py
	$(BIN)/python bench/batch.py
	$(BIN)/python bench/music.py

release: $(DEV_STAMP)  ## regenerate the student release notebooks/ (and the course folder course/) from solutions/
	$(BIN)/python -m grader release

grade: $(DEV_STAMP)  ## autograde SUBMISSIONS=dir [GRADE_ARGS="--workers 4"] into course/ (see grader/README.md)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=dir [GRADE_ARGS=...]" >&2; exit 2; }
	$(BIN)/python -m grader autograde --submissions $(SUBMISSIONS) $(GRADE_ARGS)

clean:  ## remove caches and outputs (keeps .venv)
	rm -rf output .pytest_cache .ruff_cache .hypothesis build *.egg-info

# A course on this machine (hub/, README.md "Teaching a course"), as root. The hub and
# every user's server run from their own environment, HUB_VENV, made by HUB_PYTHON (an
# interpreter every user may run) with a plain (not editable) install of the course:
# the repository's .venv points into this checkout, solutions/ included.
HUB_PYTHON ?= /usr/bin/python3
HUB_VENV ?= /opt/jazz-hub/venv
HUB_STATE ?= /srv/jazz-hub
HUB_PORT ?= 8000
HUB_LEARNERS ?= 3
HUB_STOP_ARGS ?=
HUB_STAMP := $(HUB_VENV)/.installed-hub
CHP_STAMP := hub/node_modules/.installed
HUB_RUN := PYTHONPATH=$(CURDIR) $(HUB_VENV)/bin/python -m hub.run
COURSE_CODE := $(shell find jazz_utils grader -name '*.py' -o -name '*.mid' -o -name '*.json' 2>/dev/null)

$(HUB_STAMP): pyproject.toml $(COURSE_CODE)
	@test "$$(id -u)" = 0 || { echo "make hub-env: run as root (it installs into $(HUB_VENV))" >&2; exit 2; }
	@rm -f $(HUB_STAMP)
	@test -x $(HUB_VENV)/bin/python || $(HUB_PYTHON) -m venv $(HUB_VENV)
	@echo "Installing the course and JupyterHub into $(HUB_VENV) (TensorFlow included: minutes, 2.6 GB)."
	$(HUB_VENV)/bin/python tools/heartbeat.py -- $(HUB_VENV)/bin/python -m pip install ".[hub]"
	@touch $(HUB_STAMP)

# configurable-http-proxy, pinned by hub/package-lock.json, into hub/node_modules.
$(CHP_STAMP): hub/package.json hub/package-lock.json
	@command -v npm >/dev/null || { echo "make hub: npm (Node.js) is missing: apt-get install nodejs npm" >&2; exit 2; }
	npm ci --prefix hub --no-audit --no-fund
	@touch $(CHP_STAMP)

hub-env: $(HUB_STAMP) $(CHP_STAMP)  ## JupyterHub, the course and configurable-http-proxy for `make hub`

hub: hub-env  ## JupyterHub for a course on 127.0.0.1:HUB_PORT: Unix accounts, exchange, limits (root; Ctrl-C stops)
	$(HUB_RUN) start --state $(HUB_STATE) --venv $(HUB_VENV) --port $(HUB_PORT) --learners $(HUB_LEARNERS)

hub-stop:  ## stop `make hub`'s hub, proxy, servers and kernels (HUB_STOP_ARGS="--remove-accounts --remove-state" removes what it made)
	$(HUB_RUN) stop --state $(HUB_STATE) --venv $(HUB_VENV) --learners $(HUB_LEARNERS) $(HUB_STOP_ARGS)
