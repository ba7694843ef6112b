# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# torch is pinned to the release the CI machines hold on local disk; newer ones work too.
TORCH := torch==2.14.1 torchvision==0.29.1
ROS2CLI := ../shared/ros2cli

.PHONY: venv demo test lint format clean

venv: $(STAMP)

$(STAMP): setup.py train/pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e ".[ros,onnxruntime,replay,plots,fleet,dev]" -e ./train
	# the real ros2 command line (launch, param, topic) where ../shared/ros2cli provides it
	if [ -x $(ROS2CLI)/install.sh ]; then $(ROS2CLI)/install.sh $(VENV); fi
	touch $(STAMP)

demo: venv
	$(BIN)/dense-ood demo --output demo_out --overwrite
	$(BIN)/dense-ood make-sample-bag demo_out/sample_bag --with-labels --overwrite
	$(BIN)/dense-ood replay demo_out/sample_bag --labels-topic /camera/anomaly_labels \
		--output demo_out/replay_bag --report demo_out/replay --overwrite

test: venv
	$(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --config-file mypy.ini dense_ood_ros train/dense_ood_train

format: venv
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) build install log .pytest_cache .ruff_cache demo_out
