#!/usr/bin/env bash
# The main job (README): install into .venv, build the messages, then
#   1. make a realistic ROS 2 bag from the MSRS pairs in ../shared (30 Hz RGB, mono16 thermal on
#      its own clock, jitter, dropped frames, referring texts at given times),
#   2. replay it through the same pipeline the nodes run (fusion, detection, referring) with a
#      referring text, writing every output topic to a new bag and a report,
#   3. score the fusion on the MSRS pairs (RisFuseNet and the classic baselines).
# Everything goes to results/main (or the folder given as first argument); reports are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/main}
bash tools/setup_env.sh
bash tools/build_msgs.sh
set +u
# shellcheck disable=SC1091
. tools/ros_env.sh
set -u
rm -rf "$out/msrs_bag" "$out/msrs_replay" "$out/msrs_replay_report"
mkdir -p "$out"
ris-fusion make-bag --dataset msrs --out "$out/msrs_bag" --frames 300 \
  --text-at '4:the car on the left' --text-at '7:the warmest person'
ris-fusion replay "$out/msrs_bag" --out "$out/msrs_replay" --report "$out/msrs_replay_report" \
  --set thermal_offset_seconds=-0.12 --text "the person" --metrics-every 10
ris-fusion eval fusion --dataset msrs --methods risfusenet,risfusenet-plain,max,average --save-fused --out "$out/fusion"
echo "main.sh: replay report $out/msrs_replay_report/report.md; fusion report $out/fusion/report.md"
