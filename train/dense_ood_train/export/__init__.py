"""From a trained segmenter to a contract-1 ONNX model with the anomaly score inside the graph."""
