#!/usr/bin/env bash
# Build the message package (ris_fusion_msgs) and the ament_python package with colcon,
# into build/ and install/ at the repository root. Needs .venv from tools/setup_env.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
. "${RIS_FUSION_VENV:-.venv}/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# vision_msgs/ is a project-local 2D subset with upstream's type hashes (not installable here); skip it with
# RIS_FUSION_VISION_MSGS=upstream on a full ROS 2 install that has the real package.
_vision=vision_msgs
[ "${RIS_FUSION_VISION_MSGS:-vendored}" = upstream ] && _vision=
colcon --log-base build/colcon_log build --paths ris_fusion_msgs $_vision . --event-handlers console_cohesion+ "$@"
