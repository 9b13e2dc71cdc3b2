"""The whole pipeline in one process (ris_fusion_pipeline, MultiThreadedExecutor; one shared detector).

    ros2 launch ris_fusion_ros pipeline_all_in_one.launch.py [params_file:=config/pipeline.yaml] [threads:=4]
"""

from ris_fusion_ros.nodes.launch_support import all_in_one_launch_description


def generate_launch_description():
    return all_in_one_launch_description()
