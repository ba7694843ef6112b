"""dense_ood_train: NFlowJS training (segmenter + normalizing flow) and contract-1 ONNX export."""

__version__ = "0.1.0"
