"""Thin ROS 2 nodes around the ROS-free core (``ris_fusion_ros.core``).

Nodes convert messages to numpy, call the core and publish the results; no maths lives here.
"""
