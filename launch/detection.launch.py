"""Start detection_node alone; every parameter is a launch argument (see ris_fusion_ros/nodes/launch_support.py).

    ros2 launch ris_fusion_ros detection.launch.py [params_file:=...] [<parameter>:=<value> ...]
"""

from ris_fusion_ros.nodes.launch_support import node_launch_description


def generate_launch_description():
    return node_launch_description(["detection_node"], prefixed=False)
