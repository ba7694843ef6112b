# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned to the release the CI machines hold on local disk; newer ones work too.
TORCH := torch==2.14.1 torchvision==0.29.1
ROS2CLI := ../shared/ros2cli
# The runtime alone, installed the way a user installs it (`pip install .`: no train/, no torch).
# `make test` runs the runtime suite (test/) there, so the installed package is what it imports.
RUNTIME_VENV := .venv-runtime
RBIN := $(RUNTIME_VENV)/bin
RUNTIME_EXTRAS := ros,onnxruntime,replay,plots,fleet,quantize
# what the runtime suite needs beyond the package and its extras
RUNTIME_TEST_DEPS := pytest scikit-learn jsonschema
# what `pip install .` ships (folders too: a deleted module changes its folder): a change to any
# reinstalls the package into $(RUNTIME_VENV)
PACKAGE_FILES := setup.py setup.cfg package.xml $(wildcard resource/*) \
	$(shell find dense_ood_ros launch config models data/samples -not -path '*/__pycache__*')

.PHONY: venv runtime-venv demo test test-train test-runtime lint format clean

venv: $(STAMP)

$(STAMP): setup.py train/pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[ros,onnxruntime,replay,plots,fleet,dev]" -e ./train
	# the real ros2 command line (launch, param, topic) where ../shared/ros2cli provides it
	if [ -x $(ROS2CLI)/install.sh ]; then $(ROS2CLI)/install.sh $(VENV); fi
	touch $(STAMP)

runtime-venv: $(RUNTIME_VENV)/.installed

$(RUNTIME_VENV)/.deps: setup.py Makefile
	$(PYTHON) -m venv $(RUNTIME_VENV)
	$(RBIN)/pip install --quiet --upgrade pip
	$(RBIN)/pip install --quiet ".[$(RUNTIME_EXTRAS)]" $(RUNTIME_TEST_DEPS)
	if [ -x $(ROS2CLI)/install.sh ]; then $(ROS2CLI)/install.sh $(RUNTIME_VENV); fi
	touch $@

# Not editable: rebuilt from a clean setuptools build folder (a moved module must not linger).
$(RUNTIME_VENV)/.installed: $(RUNTIME_VENV)/.deps $(PACKAGE_FILES)
	rm -rf build/lib build/bdist.*
	$(RBIN)/pip install --quiet --no-deps --force-reinstall .
	touch $@

demo: venv
	$(BIN)/dense-ood demo --output demo_out --overwrite
	$(BIN)/dense-ood make-sample-bag demo_out/sample_bag --with-labels --overwrite
	$(BIN)/dense-ood replay demo_out/sample_bag --labels-topic /camera/anomaly_labels \
		--output demo_out/replay_bag --report demo_out/replay --overwrite

# Each suite runs once: training's in .venv (torch), the runtime's in the torch-free runtime venv.
# bin/pytest (not `python -m pytest`) keeps the checkout off sys.path: the installed package runs.
test: test-train test-runtime

test-train: venv
	$(BIN)/python -m pytest train/tests

test-runtime: runtime-venv
	$(RBIN)/pytest test

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --config-file mypy.ini dense_ood_ros train/dense_ood_train
	$(BIN)/lint-imports

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) $(RUNTIME_VENV) build install log .pytest_cache .ruff_cache demo_out
