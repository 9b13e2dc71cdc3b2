"""Referring segmentation: text -> the objects it names -> a mask (ROS-free)."""
