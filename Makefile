# Everything a fresh machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo demo-station test fuzz mutate venv clean bench schema chipdata chipdocs

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py

# A station burning 8 virtual units at once (docs/station.md).
demo-station: $(STAMP)
	$(PY) tools/demo_station.py

test: $(STAMP)
	$(PY) -m pytest -n 2 tests

# The property tests with the long hypothesis profile (docs/safety-fuzz.md): random seeds,
# FUSEBOOK_FUZZ_SCALE (default 100) times the examples `make test` runs.
fuzz: $(STAMP)
	FUSEBOOK_FUZZ=1 $(PY) -m pytest -p no:cacheprovider --hypothesis-show-statistics tests/fuzz

bench: $(STAMP)
	$(PY) benchmarks/cli.py
	$(PY) benchmarks/batch.py
	$(PY) benchmarks/wire.py
	$(PY) benchmarks/station.py

schema: $(STAMP)
	$(PY) -m fusebook schema > schemas/recipe.schema.json
	$(PY) -m fusebook schema --test > schemas/recipe-test.schema.json
	$(PY) -m fusebook.chips.compile

# Chip data from Espressif's tables (chips/data/*.yaml), then its compiled form
# (chips/compiled/*.json, what fusebook reads) and schemas/chip.schema.json; tests check both are current.
chipdata: $(STAMP)
	$(PY) tools/gen_chip_data.py
	$(PY) -m fusebook.chips.compile

# docs/chips/<chip>.md from the chip data (a test checks they are current).
chipdocs: $(STAMP)
	$(PY) tools/gen_chip_docs.py

clean:
	rm -rf $(VENV) demo-out

# Mutation testing of the core (docs/safety.md, "Mutation testing"); slow, not part of `make test`.
# mutmut keeps its state in mutants/: a second run only re-checks what changed.
mutate: $(STAMP)
	nice -n 10 $(VENV)/bin/mutmut run --max-children 1
	$(PY) tools/mutation_score.py $(VENV)/bin/mutmut
