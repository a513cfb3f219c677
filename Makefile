# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.edgernn-installed
# Interpreter for the clean-install venvs; tflite-runtime needs Python < 3.12 (make check-install TFLITE_PYTHON=python3.11).
TFLITE_PYTHON ?= $(PYTHON)

export TF_CPP_MIN_LOG_LEVEL := 3
export ORT_DISABLE_TELEMETRY := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test lint models fuzz report install clean check-install test-tflite-runtime test-ray test-backends fresh-clone mcu

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job: train the three seed models, export, check on every backend, print the table.
demo: $(STAMP)
	$(BIN)/edgernn demo --out out/demo

## The test suite (real converters and runtimes, tiny models). The Ray engine's tests are `make test-ray`.
test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider --ignore=tests/data/test_ray_engine.py \
		--ignore=tests/export/test_other_backends.py

## --engine ray on a local Ray (num_cpus=2): installs the [ray] extra, then checks Ray == local row for row.
## Without ray (the install failed, or an unsupported Python) the tests skip and say why (-rs).
test-ray: $(STAMP)
	-$(BIN)/python -m pip install -q -e '.[ray]'
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider tests/data/test_ray_engine.py

## .keras files saved on the JAX and torch backends export, every artifact answering like the saving backend:
## installs the [keras-backends] extra with torch's CPU wheel (the default torch wheel pulls the CUDA stack,
## gigabytes), else jax alone; a backend that does not install or import skips, saying why (-rs).
TORCH_CPU ?= torch==2.13.0+cpu
test-backends: $(STAMP)
	$(BIN)/python -m pip install -q -e '.[keras-backends]' '$(TORCH_CPU)' || $(BIN)/python -m pip install -q jax \
		|| echo "test-backends: neither torch ($(TORCH_CPU)) nor jax installs; the tests skip"
	$(BIN)/python -m pytest -q -rs -p no:cacheprovider tests/export/test_other_backends.py

## Formatter and linter (ruff, configured in pyproject.toml): line length, import order, pyflakes.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Mutation fuzzing: per format, 1,000 byte-level and 3,000 structure-aware mutants of the shipped artifacts; counts to fuzz/RESULTS.md.
fuzz: $(STAMP)
	$(BIN)/python fuzz/run.py

## The C format on an emulated Cortex-M4 (qemu mps2-an386): the shipped models' model_test.c must pass
## there (skips, saying why, without arm-none-eabi-gcc / qemu-system-arm). Figures: benchmarks/mcu.py.
mcu: $(STAMP)
	EDGERNN_MCU=1 $(BIN)/python -m pytest -q -p no:cacheprovider -rs tests/mcu

## Regenerate the shipped bundles in models/ (after training or bundle-format changes) and sign them
## with the project's demo key (keys/; see docs/security.md).
models: $(STAMP)
	$(BIN)/edgernn demo --out models
	$(BIN)/edgernn train --data data/sunspots.csv --cell gru --units 16 --timesteps 12 --epochs 200 --out models/sunspots-gru
	for b in models/*/; do $(BIN)/edgernn verify $$b --key keys/edgernn-models.pub >/dev/null 2>&1 || \
		$(BIN)/edgernn sign $$b --key keys/edgernn-models.pem; done  # re-sign only what changed (ECDSA is randomised)

## The seed comparison (seed vs improved recipe per cell) and the sunspots bundle's plots, in out/report.
report: $(STAMP)
	$(BIN)/edgernn report models/sunspots-gru --out out/report

## Clean-install check: build the wheel, install it into fresh venvs (no extra, [litert], [onnx],
## [tflite-runtime]); in each, predict + validate pass on models/ and TF is absent. Writes the sizes.
check-install: $(STAMP)
	$(BIN)/python benchmarks/clean_install.py --pytest --python $(TFLITE_PYTHON) --results benchmarks/RESULTS-install.md

## The tflite-runtime backend alone, in its own venv (Python < 3.12, numpy < 2, no TF).
test-tflite-runtime: $(STAMP)
	$(BIN)/python benchmarks/clean_install.py --envs tflite-runtime --pytest --python $(TFLITE_PYTHON)

## The README's front-page commands, literally, on a fresh clone of the committed state (slow; skips offline).
fresh-clone:
	$(PYTHON) benchmarks/fresh_clone.py

clean:
	rm -rf $(VENV) out build *.egg-info
