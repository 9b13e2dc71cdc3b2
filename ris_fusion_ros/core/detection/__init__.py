"""Object detection: model definitions, decoding, NMS and instance masks (ROS-free)."""
