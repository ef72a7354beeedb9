# Interview kiosk: the commands a newcomer and CI use.
#   make demo   one interview end to end on embedded defaults (central, capture,
#               analysis, report, delivery), in about two minutes
#   make test   ruff, the import contracts, mypy and the whole pytest suite
#   make docs-screenshots  the pictures in docs/candidate-flow.md, taken from the real
#               touchscreen in Chromium by its tests
#   make bench  every benchmark under benchmarks/, one table
#               (SPEECH_SET=DIR adds a site's own recordings to the speech accuracy:
#               WAV files and refs.tsv with file, language, reference text)

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench system-packages venv schemas docs-screenshots clean

system-packages:
	@bash provisioning/install-system-packages.sh

$(STAMP): pyproject.toml
	@echo "python environment: creating $(VENV) and installing the project with its test tools"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

venv: system-packages $(STAMP)

demo: venv
	$(BIN)/kiosk models install
	$(BIN)/kiosk demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest

test: venv
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pytest

bench: venv
	KIOSK_SPEECH_SET="$(SPEECH_SET)" $(BIN)/python -m benchmarks

schemas: venv
	$(BIN)/python -m device.schemas docs/schemas

docs-screenshots: venv
	KIOSK_DOCS_SCREENSHOTS=1 $(BIN)/pytest -q tests/test_device/ui/test_ui_touchscreen.py \
		tests/test_device/ui/test_ui_faults.py -k "en-800x480 or ko-800x480 or microphone_that_stops"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
