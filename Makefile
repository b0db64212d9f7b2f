# jupyter-serverless-ml: set-up, demo, tests, benchmarks.
# `make demo` and `make test` create .venv with uv on first use (idempotent).

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
UV     := python3 -m uv

.PHONY: setup demo test lint pytest bench lab clean

$(STAMP): pyproject.toml
	@python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@[ -x $(PY) ] || $(UV) venv --quiet $(VENV)
	@# after `make lab` the installed share/ folder links to the build folder, so a reinstall
	@# writes install.json there; the wheel then holds it twice: drop the copy first
	@rm -f jupyter_serverless_ml/labextension/install.json
	$(UV) pip install --quiet -p $(PY) --compile-bytecode -e '.[all,dev]'
	@$(PY) -m compileall -q jupyter_serverless_ml
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	@mkdir -p notebooks/out
	$(VENV)/bin/papermill notebooks/quickstart.ipynb notebooks/out/quickstart.ipynb --cwd notebooks --progress-bar
	@echo "---- summary ----"
	@$(VENV)/bin/jsml job cancer
	@$(VENV)/bin/jsml batches --limit 1

lint: $(STAMP) lint-ts
	$(VENV)/bin/ruff check jupyter_serverless_ml tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports  # the layers (pyproject.toml [tool.importlinter])

.PHONY: lint-ts
lint-ts: $(STAMP)  # eslint, prettier and stylelint over labextension/ (lint:check)
	cd labextension && PATH=$(CURDIR)/$(VENV)/bin:$$PATH jlpm lint:check

pytest: $(STAMP)
	$(PY) -m pytest

test: lint pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_serve.py
	$(PY) benchmarks/bench_scale.py
	$(PY) benchmarks/bench_sidebar.py
	$(PY) benchmarks/bench_drift.py
	$(PY) benchmarks/bench_costs.py

# rebuild the JupyterLab extension after editing labextension/src (make setup builds it once)
lab: $(STAMP)
	cd labextension && PATH=$(CURDIR)/$(VENV)/bin:$$PATH jlpm build
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH $(VENV)/bin/jupyter labextension develop --overwrite .  # Lab then serves the build itself

clean:
	rm -rf $(VENV) notebooks/out .pytest_cache .mypy_cache .ruff_cache \
	  jupyter_serverless_ml/labextension labextension/lib labextension/node_modules
