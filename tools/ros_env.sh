# Source me (bash): the environment for running rclpy code and the built messages.
# Only the message package's install folders are added, so Python imports of
# ris_fusion_ros keep resolving to this source tree (the editable install).
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$_root/${RIS_FUSION_VENV:-.venv}/bin/activate"
_msgs="$_root/install/ris_fusion_msgs"
_vision="$_root/install/vision_msgs"  # the project-local vision_msgs subset, when built
export PYTHONPATH="$(ls -d "$_msgs"/lib/python3*/site-packages "$_vision"/lib/python3*/site-packages 2>/dev/null \
  | paste -sd:)${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$_msgs/lib:$_vision/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV:$_msgs:$_vision:$_root/install/ris_fusion_ros"
# DDS discovery must stay on this machine; a private domain keeps parallel runs apart.
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_DOMAIN_ID="${ROS_DOMAIN_ID:-42}"
export ROS_LOG_DIR="${ROS_LOG_DIR:-$_root/build/ros_log}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
unset _root _msgs _vision
