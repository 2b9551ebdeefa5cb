# Two commands do all set-up on a fresh machine: `make lab` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
NBVAL  := --nbval-current-env --nbval-cell-timeout=1200
# The strict replay runs REPLAY_JOBS notebooks side by side, each in its own kernel (a notebook's
# cells stay together, in order: --dist loadfile). REPLAY_JOBS=0: one kernel at a time.
REPLAY_JOBS ?= 2
REPLAY := COURSE_MODE=replay COURSE_PROGRESS_FILE=/dev/null
REPLAY_ARGS := notebooks --nbval $(NBVAL) -n $(REPLAY_JOBS) --dist loadfile
LABARGS := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test unit live notebooks replay record lint bench images-archive preflight clean \
        lowest hooks

$(STAMP): pyproject.toml lab-settings/overrides.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[lab,dev]'
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp lab-settings/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	touch $(STAMP)

## Open the course in JupyterLab (live with an engine, replay without one).
lab: $(STAMP)
	@why=$$($(PY) -c 'from helpers.engine.client import why_no_engine as w; print(w())'); \
	if [ -z "$$why" ]; then \
	  echo "Docker Engine found: the notebooks run live."; \
	  $(VENV)/bin/jupyter lab $(LABARGS) notebooks/01_containers_vs_vms.ipynb; \
	else \
	  echo "$$why"; \
	  echo "So the notebooks replay a recorded session (see README, 'Getting a Docker Engine')."; \
	  COURSE_MODE=replay COURSE_REPLAY_REASON="$$why" \
	    $(VENV)/bin/jupyter lab $(LABARGS) notebooks/01_containers_vs_vms.ipynb; \
	fi

## Lint (ruff, mypy) first; then unit, live-engine and browser tests with the notebooks run live
## (nbval-lax), the notebooks replayed against their committed outputs (strict nbval), and a
## leftovers check. CI runs this target.
test: $(STAMP) lint
	$(PY) -m pytest tests notebooks --nbval-lax $(NBVAL)
	$(REPLAY) $(PY) -m pytest $(REPLAY_ARGS)
	$(PY) -m helpers leftovers

unit: $(STAMP)
	$(PY) -m pytest tests/unit

## LIVE_ARGS: more pytest arguments (CI's second pass leaves out what does not depend on the
## engine's image store).
live: $(STAMP)
	$(PY) -m pytest tests/live $(LIVE_ARGS)

notebooks: $(STAMP)
	$(PY) -m pytest notebooks --nbval-lax $(NBVAL)

replay: $(STAMP)
	$(REPLAY) $(PY) -m pytest $(REPLAY_ARGS)

## Run every notebook live, refresh data/recordings/ and the notebooks' committed outputs.
record: $(STAMP)
	$(PY) -m helpers record

## Static checks: ruff on everything, mypy on helpers/ (settings in pyproject.toml).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

preflight: $(STAMP)
	$(PY) -m helpers preflight

bench: $(STAMP)
	$(PY) -m bench

## A folder of `docker save` archives for classrooms without a registry (COURSE_IMAGE_ARCHIVE).
images-archive: $(STAMP)
	$(PY) -m helpers images-archive images-archive

## The declared minimum versions really work: a fresh venv with every direct dependency at its
## lowest allowed version (uv's lowest-direct resolution), the course installed NOT editable
## (as a hub image or a wheel would have it), then the unit tests and the strict replay.
LOWEST := $(VENV)/lowest
UV_VERSION := 0.13.9
lowest:
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	$(LOWEST)/bin/uv pip install --quiet --python $(LOWEST)/bin/python \
	  --resolution lowest-direct '.[lab,dev]'
	$(LOWEST)/bin/python -m pip list --format=freeze > $(LOWEST)/versions.txt
	cd tests && ../$(LOWEST)/bin/python -c 'import helpers; assert "site-packages" in helpers.__file__'
	$(LOWEST)/bin/python -m pytest tests/unit -p no:cacheprovider
	$(REPLAY) $(LOWEST)/bin/python -m pytest $(REPLAY_ARGS) -p no:cacheprovider

## Git hooks for contributors: pre-commit (.pre-commit-config.yaml) and nbdime's notebook diffs.
hooks: $(STAMP)
	$(VENV)/bin/pre-commit install
	$(VENV)/bin/nbdime config-git --enable

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
