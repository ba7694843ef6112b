"""The one ROS-free frame pipeline (frame -> engine -> masks) that the node, the replay, the bench
and the evaluation share, and the rendering of its colour and overlay images."""
