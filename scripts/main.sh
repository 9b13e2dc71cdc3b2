#!/usr/bin/env bash
# The main job (README): install into .venv, build the messages, then fuse the MSRS pairs in
# ../shared with the project's network (RisFuseNet) and the classic baselines, and write fused images plus an evaluation
# report (CSV, markdown, plot) to results/msrs (or the folder given as first argument).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/msrs}
bash tools/setup_env.sh
bash tools/build_msgs.sh
set +u
# shellcheck disable=SC1091
. tools/ros_env.sh
set -u
ris-fusion eval fusion --dataset msrs --methods risfusenet,max,average --save-fused --out "$out"
echo "main.sh: report in $out/report.md, fused images in $out/fused/"
