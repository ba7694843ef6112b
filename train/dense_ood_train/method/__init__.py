"""The method (NFlowJS): negative synthesis and pasting, the joint loss, the JSD and baseline
scores, and the watch on the flow's samples."""
