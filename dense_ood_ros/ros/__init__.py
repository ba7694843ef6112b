"""The rclpy node (a thin shell) and its ROS-free helpers: parameters, topic names, newest-frame
slots per camera and per-camera statistics for /diagnostics."""
