"""`python -m dense_ood_ros.node` and the `dense_ood_node` executable: the rclpy node.

The node lives in dense_ood_ros.ros.node; this module keeps the documented entry point.
"""

from __future__ import annotations

import sys

from dense_ood_ros.ros.node import main

if __name__ == "__main__":
    sys.exit(main())
