#!/usr/bin/env bash
# The test command (README): install everything into .venv, build the ROS package and its
# messages with colcon, lint, then run the whole test suite. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash tools/setup_env.sh
bash tools/build_msgs.sh
set +u
# shellcheck disable=SC1091
. tools/ros_env.sh
set -u
export RIS_FUSION_REQUIRE_ROS=1   # in this run a missing ROS piece is a failure, not a skip
ruff check .
python -m pytest test -rs -q -p no:cacheprovider "$@"
echo "test.sh: total $(( $(date +%s) - start )) s"
