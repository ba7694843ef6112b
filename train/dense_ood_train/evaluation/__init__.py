"""Anomaly-score evaluation on benchmarks, through the vehicle runtime's own pipeline."""
