"""The whole pipeline as three processes: fusion_node -> detection_node + referring_segmentation_node.

    ros2 launch ris_fusion_ros pipeline.launch.py [fusion.params_file:=...] [fusion.fusion_method:=max]
        [detection.min_score:=0.4] [referring.default_text:="the person"] [namespace:=/robot]

Every parameter of every node is an argument ``<fusion|detection|referring>.<parameter>``.
"""

from ris_fusion_ros.nodes.launch_support import node_launch_description


def generate_launch_description():
    return node_launch_description(["fusion_node", "detection_node", "referring_segmentation_node"], prefixed=True)
