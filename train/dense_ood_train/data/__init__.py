"""Training data: synthetic road scenes, Cityscapes-format and folder datasets, augmentations,
and sources of real negatives for the outlier-exposure baseline.

Datasets return (image uint8 [H, W, 3] RGB, label uint8 [H, W] trainIds, 255 = ignore) before
transforms; `transforms.collate` batches them for the trainer.
"""
