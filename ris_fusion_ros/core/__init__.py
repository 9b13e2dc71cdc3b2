"""ROS-free core: data sets, fusion methods, evaluation. Never imports rclpy."""
