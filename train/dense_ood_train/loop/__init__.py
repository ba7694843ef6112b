"""The training loops and what they need: datasets from a config, the joint trainer, flow
pretraining, checkpoints, closed-set validation, logs and provenance."""
