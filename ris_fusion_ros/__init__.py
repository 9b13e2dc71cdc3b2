"""ris_fusion_ros: thermal + RGB fusion, referring segmentation and detection.

Layers: ``ris_fusion_ros.core`` (ROS-free: data, fusion, evaluation), ``ris_fusion_ros.backends``
(inference runtimes) and ``ris_fusion_ros.nodes`` (thin rclpy nodes). Importing this package
never imports rclpy.
"""

__version__ = "0.1.0"
