# Everything a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test venv clean bench schema chipdata

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest -n 2 tests

bench: $(STAMP)
	$(PY) benchmarks/batch.py
	$(PY) benchmarks/wire.py

schema: $(STAMP)
	$(PY) -m fusebook schema > schemas/recipe.schema.json

chipdata: $(STAMP)
	$(PY) tools/gen_chip_data.py

clean:
	rm -rf $(VENV) demo-out
