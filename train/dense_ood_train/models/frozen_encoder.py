"""Freezing a segmenter's encoder for fine-tuning: no gradients, batch-norm statistics kept."""

from __future__ import annotations

from torch import nn


class FreezableEncoder(nn.Module):
    """Base of the segmenters: `freeze_encoder()` stops the encoder's learning for good.

    The encoder then stays in eval mode whatever `train()` is called with, so its batch-norm
    running statistics (learned on inliers) do not drift towards batches with negatives.
    """

    encoder_frozen = False

    @property
    def encoder(self) -> nn.Module:
        """The feature extractor (what the `backbone` learning-rate group holds)."""
        raise NotImplementedError

    def freeze_encoder(self) -> None:
        self.encoder.requires_grad_(False)
        self.encoder_frozen = True
        self.train(self.training)

    def train(self, mode: bool = True) -> FreezableEncoder:
        super().train(mode)
        if self.encoder_frozen:
            self.encoder.eval()
        return self
