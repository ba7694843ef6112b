"""Bag replay evaluation without a ROS install: bags in (rosbags), the node's pipeline on every
camera frame, the node's mask topics out, and metrics where labels are recorded."""
