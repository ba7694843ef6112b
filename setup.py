"""ament_python package for the vehicle runtime; also pip-installable for development."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "dense_ood_ros"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={PACKAGE: ["py.typed"]},  # PEP 561: the package is typed
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (
            f"share/{PACKAGE}/config",
            glob("config/*.yaml") + glob("config/*.rviz") + glob("config/*.xml"),
        ),
        (f"share/{PACKAGE}/models", glob("models/*.onnx")),
        (f"share/{PACKAGE}/data/samples", glob("data/samples/*.*")),
        (f"share/{PACKAGE}/data/samples/labels", glob("data/samples/labels/*.png")),
        (f"share/{PACKAGE}/data/samples/synthroad", glob("data/samples/synthroad/*.jpg")),
        (
            f"share/{PACKAGE}/data/samples/synthroad/labels",
            glob("data/samples/synthroad/labels/*.png"),
        ),
    ],
    python_requires=">=3.10",
    install_requires=["numpy>=1.21", "opencv-python-headless>=4.5", "pyyaml", "tqdm"],
    extras_require={
        # What a pip user (no ROS install) needs for the node: the ROS 2 Jazzy wheels from PyPI.
        "ros": [
            "ros-jazzy-rclpy[fastrtps]",
            "ros-jazzy-sensor-msgs",
            "ros-jazzy-std-msgs",
            "ros-jazzy-diagnostic-msgs",
            "ros-jazzy-visualization-msgs",  # the anomaly obstacles' MarkerArray
        ],
        "onnxruntime": ["onnxruntime>=1.16"],
        "onnxruntime-gpu": ["onnxruntime-gpu>=1.16"],
        # The TensorRT backend and `dense-ood build-engine`: TensorRT 10 or 11, CUDA by cuda-python.
        "tensorrt": ["tensorrt>=10", "cuda-python>=12"],
        # `dense-ood quantize` (ONNX Runtime's quantizer reads and writes models with onnx; its
        # shape-inference pre-processing needs sympy, which onnxruntime no longer installs).
        "quantize": ["onnx>=1.14", "sympy"],
        # rosbags-image is not used: codec.decode_frame decodes bag frames as the node does.
        "replay": ["rosbags>=0.10"],
        "plots": ["matplotlib>=3.5"],
        # `dense-ood replay --workers N` / `--ray-address ADDR`: a fleet of bags on Ray.
        "fleet": ["ray>=2.9"],
        "dev": [
            "pytest>=7",
            "ruff>=0.5",
            "mypy>=1.10",
            "scikit-learn>=1.2",
            "onnx>=1.14",
            "jsonschema>=4",
            "import-linter>=2.1",
        ],
    },
    zip_safe=True,
    maintainer="dense_ood_ros maintainers",
    maintainer_email="maintainers@dense-ood-ros.invalid",
    description="Dense anomaly-aware semantic segmentation node for ROS 2 (NFlowJS).",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "dense_ood_node = dense_ood_ros.node:main",
            "dense-ood = dense_ood_ros.tools.cli:main",
        ],
    },
)
