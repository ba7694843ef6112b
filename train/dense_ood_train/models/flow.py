"""A fully convolutional multi-scale normalizing flow (Glow / RealNVP family) for RGB patches.

Every layer is convolutional and the base distribution's mean and scale are per channel and
shared across space, so one trained flow scores and samples images of any size divisible by its
scale factor 2**levels. That is what lets NFlowJS paste negatives of random sizes. With
`learned_prior`, each split-off latent's prior is predicted by a convolution of the channels
that stay (Glow's learned prior): still any size, but spatially coherent samples per parameter.

Data space: RGB in [0, 1] (8-bit values dequantized with uniform noise and divided by 256).
The flow itself works on x - 0.5.
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
import torch.nn.functional as F
from torch import nn

LOG_2PI = math.log(2.0 * math.pi)

M = TypeVar("M", bound=nn.Module)


def modules_of(container: nn.ModuleList, kind: type[M]) -> list[M]:
    """The items of a ModuleList as `kind` (ModuleList is not generic for the type checker)."""
    items = [module for module in container if isinstance(module, kind)]
    if len(items) != len(container):
        raise TypeError(f"expected only {kind.__name__} modules")
    return items


def squeeze2x2(x: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, 4C, H/2, W/2] (space to depth)."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(n, c * 4, h // 2, w // 2)


def unsqueeze2x2(x: torch.Tensor) -> torch.Tensor:
    """Inverse of `squeeze2x2`."""
    n, c, h, w = x.shape
    x = x.view(n, c // 4, 2, 2, h, w)
    return x.permute(0, 1, 4, 2, 5, 3).reshape(n, c // 4, h * 2, w * 2)


class InvertibleLayer(nn.Module):
    """A bijection: `forward(x) -> (y, log|det dy/dx| per sample)` and `inverse(y) -> x`."""

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class ActNorm(InvertibleLayer):
    """Per-channel affine layer, initialised from the first batch to zero mean and unit variance."""

    initialized: torch.Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _initialize(self, x: torch.Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-torch.log(std + 1e-6))
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not bool(self.initialized) and self.training:
            self._initialize(x)
        y = (x + self.bias) * torch.exp(self.log_scale)
        logdet = self.log_scale.sum() * x.shape[2] * x.shape[3]
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return y * torch.exp(-self.log_scale) - self.bias


class InvConv1x1(InvertibleLayer):
    """Invertible 1x1 convolution (Glow); `lu=True` parametrises W = P L (U + diag(s))."""

    p: torch.Tensor
    sign_s: torch.Tensor
    lower_mask: torch.Tensor
    eye: torch.Tensor

    def __init__(self, channels: int, lu: bool = False) -> None:
        super().__init__()
        self.lu = lu
        weight = torch.linalg.qr(torch.randn(channels, channels))[0]
        if not lu:
            self.weight = nn.Parameter(weight)
            return
        p, lower, upper = torch.linalg.lu(weight)
        s = torch.diagonal(upper)
        self.register_buffer("p", p)
        self.register_buffer("sign_s", torch.sign(s))
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.register_buffer("eye", torch.eye(channels))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(torch.log(torch.abs(s)))

    def _weight_and_logdet(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.lu:
            return self.weight, torch.linalg.slogdet(self.weight)[1]
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * torch.exp(self.log_s))
        return self.p @ lower @ upper, self.log_s.sum()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weight, logdet = self._weight_and_logdet()
        y = F.conv2d(x, weight[:, :, None, None])
        return y, (logdet * x.shape[2] * x.shape[3]).expand(x.shape[0])

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        weight, _ = self._weight_and_logdet()
        return F.conv2d(y, torch.linalg.inv(weight)[:, :, None, None])


class AffineCoupling(InvertibleLayer):
    """Affine coupling: the second half of the channels is scaled and shifted by a small conv net
    of the first half.

    The log-scale is bounded, log s = m * tanh(raw / m), so that the inverse (sampling) can
    expand by at most e**m per layer. Glow's unbounded-below sigmoid scale made sampling
    overflow to inf/NaN after a few hundred joint steps: samples from the prior leave the
    region the forward pass was trained on, and dividing by a scale near 0 compounds.
    """

    def __init__(self, channels: int, hidden: int, max_log_scale: float = 2.0) -> None:
        super().__init__()
        self.split = channels // 2
        self.max_log_scale = max_log_scale
        out = nn.Conv2d(hidden, 2 * (channels - self.split), 3, padding=1)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)  # type: ignore[arg-type]  # Conv2d(bias=True) has one
        self.net = nn.Sequential(
            nn.Conv2d(self.split, hidden, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 1),
            nn.ReLU(inplace=True),
            out,
        )

    def _shift_scale(self, xa: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shift, raw = self.net(xa).chunk(2, dim=1)
        return shift, self.max_log_scale * torch.tanh(raw / self.max_log_scale)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xa, xb = x[:, : self.split], x[:, self.split :]
        shift, log_scale = self._shift_scale(xa)
        yb = (xb + shift) * torch.exp(log_scale)
        return torch.cat([xa, yb], dim=1), log_scale.flatten(1).sum(1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        ya, yb = y[:, : self.split], y[:, self.split :]
        shift, log_scale = self._shift_scale(ya)
        return torch.cat([ya, yb * torch.exp(-log_scale) - shift], dim=1)


class FlowStep(InvertibleLayer):
    """One Glow step: actnorm, invertible 1x1 convolution, affine coupling."""

    def __init__(self, channels: int, hidden: int, lu: bool = False) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [ActNorm(channels), InvConv1x1(channels, lu), AffineCoupling(channels, hidden)]
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logdet = x.new_zeros(x.shape[0])
        for layer in modules_of(self.layers, InvertibleLayer):
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        for layer in reversed(modules_of(self.layers, InvertibleLayer)):
            y = layer.inverse(y)
        return y


def gaussian_log_prob(z: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """Sum over all but the batch dimension of log N(z; mean, exp(log_scale))."""
    normalised = (z - mean) * torch.exp(-log_scale)
    elementwise = -0.5 * (normalised**2 + LOG_2PI) - log_scale
    return elementwise.flatten(1).sum(1)


class ChannelGaussian(nn.Module):
    """N(mu_c, sigma_c): learned per-channel mean and log-scale, shared across space."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))

    @property
    def channels(self) -> int:
        return self.mean.shape[1]

    def mean_log_scale(
        self, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gaussian's mean and log-scale (broadcastable to the latent); no context needed."""
        return self.mean, self.log_scale

    def log_prob(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """Sum of per-element log densities, one value per sample."""
        return gaussian_log_prob(z, *self.mean_log_scale(context))

    def sample(
        self,
        n: int,
        height: int,
        width: int,
        temperature: float = 1.0,
        context: torch.Tensor | None = None,
    ) -> torch.Tensor:
        mean, log_scale = self.mean_log_scale(context)
        eps = torch.randn(n, self.channels, height, width, device=mean.device, dtype=mean.dtype)
        return mean + temperature * torch.exp(log_scale) * eps


class ConditionalGaussian(ChannelGaussian):
    """Glow's learned prior for a split-off latent: N(mu(h), sigma(h)) given the kept channels h.

    A zero-initialised 3x3 convolution of h adds to the per-channel mean and log-scale, so the
    prior starts as ChannelGaussian and stays fully convolutional (any size samples). Its
    log-scale is bounded like the couplings' (m * tanh(raw / m)) to keep sampling finite.
    """

    def __init__(self, context_channels: int, channels: int, max_log_scale: float = 2.0) -> None:
        super().__init__(channels)
        self.max_log_scale = max_log_scale
        self.conv = nn.Conv2d(context_channels, 2 * channels, 3, padding=1)
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)  # type: ignore[arg-type]  # Conv2d(bias=True) has one

    def mean_log_scale(
        self, context: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if context is None:
            raise ValueError("a conditional prior needs the level's kept channels as context")
        mean, raw = self.conv(context).chunk(2, dim=1)
        raw = raw + self.log_scale
        return self.mean + mean, self.max_log_scale * torch.tanh(raw / self.max_log_scale)


class FlowLevel(nn.Module):
    """Squeeze, `steps` flow steps, then (unless last) split off half the channels as latent."""

    def __init__(
        self,
        in_channels: int,
        steps: int,
        hidden: int,
        lu: bool,
        split: bool,
        learned_prior: bool = False,
    ) -> None:
        super().__init__()
        channels = in_channels * 4
        self.steps = nn.ModuleList([FlowStep(channels, hidden, lu) for _ in range(steps)])
        self.split = split
        self.out_channels = channels // 2 if split else channels
        latent = channels - self.out_channels if split else channels
        self.prior: ChannelGaussian = (
            ConditionalGaussian(self.out_channels, latent)
            if split and learned_prior
            else ChannelGaussian(latent)
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (h passed to the next level, z of this level, logdet); h is z's context."""
        x = squeeze2x2(x)
        logdet = x.new_zeros(x.shape[0])
        for step in modules_of(self.steps, FlowStep):
            x, ld = step(x)
            logdet = logdet + ld
        if self.split:
            return x[:, : self.out_channels], x[:, self.out_channels :], logdet
        return x.new_zeros(0), x, logdet

    def inverse(self, h: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        x = torch.cat([h, z], dim=1) if h is not None and self.split else z
        for step in reversed(modules_of(self.steps, FlowStep)):
            x = step.inverse(x)
        return unsqueeze2x2(x)


class Glow(nn.Module):
    """Multi-scale flow over RGB in [0, 1]; any H, W divisible by `scale_factor` works."""

    def __init__(
        self,
        levels: int = 3,
        steps_per_level: int = 4,
        hidden: int = 64,
        lu: bool = False,
        in_channels: int = 3,
        learned_prior: bool = False,
    ) -> None:
        super().__init__()
        if levels < 1 or steps_per_level < 1:
            raise ValueError("a flow needs levels >= 1 and steps_per_level >= 1")
        self.in_channels = in_channels
        self.levels = nn.ModuleList()
        channels = in_channels
        for index in range(levels):
            level = FlowLevel(
                channels, steps_per_level, hidden, lu, index < levels - 1, learned_prior
            )
            self.levels.append(level)
            channels = level.out_channels

    def _levels(self) -> list[FlowLevel]:
        return modules_of(self.levels, FlowLevel)

    @property
    def scale_factor(self) -> int:
        return 2 ** len(self.levels)

    def _check_size(self, height: int, width: int) -> None:
        f = self.scale_factor
        if height <= 0 or width <= 0 or height % f or width % f:
            raise ValueError(f"flow size {height}x{width} must be positive multiples of {f}")

    def _levels_forward(
        self, x: torch.Tensor
    ) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(context h, latent z, logdet) of each level, finest first, for x in [0, 1]."""
        self._check_size(x.shape[2], x.shape[3])
        h = x - 0.5
        outputs = []
        for level in self._levels():
            h, z, logdet = level(h)
            outputs.append((h, z, logdet))
        return outputs

    def encode(self, x: torch.Tensor) -> tuple[list[torch.Tensor], torch.Tensor]:
        """x in [0, 1] -> (latents, one per level, finest first; log|det dz/dx| per sample)."""
        outputs = self._levels_forward(x)
        logdet = outputs[0][2]
        for _, _, more in outputs[1:]:
            logdet = logdet + more
        return [z for _, z, _ in outputs], logdet

    def decode(self, latents: list[torch.Tensor]) -> torch.Tensor:
        """Inverse of `encode`: latents -> x in data space (not clamped to [0, 1])."""
        h: torch.Tensor | None = None
        for level, z in zip(reversed(self._levels()), reversed(latents), strict=True):
            h = level.inverse(h, z)
        assert h is not None  # a flow has at least one level
        return h + 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_prob(x)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log density (nats) of continuous x in [0, 1], one value per sample."""
        total = x.new_zeros(x.shape[0])
        for level, (h, z, logdet) in zip(self._levels(), self._levels_forward(x), strict=True):
            total = total + logdet + level.prior.log_prob(z, h if level.split else None)
        return total

    def bits_per_dim(self, x_uint8: torch.Tensor, dequantize: bool = True) -> torch.Tensor:
        """Negative log-likelihood of 8-bit images [N, C, H, W] (values 0..255) in bits/dim.

        Uniform dequantization: x = (x_uint8 + u) / 256, u ~ U[0, 1); the density of the
        discrete image is bounded by p(x) / 256**D, hence the D * log(256) term.
        """
        x = x_uint8.float()
        x = x + (torch.rand_like(x) if dequantize else 0.5)
        x = x / 256.0
        dims = x[0].numel()
        log_p = self.log_prob(x) - dims * math.log(256.0)
        return -log_p / (dims * math.log(2.0))

    def latent_shapes(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """(C, H, W) of each level's latent for an image of height x width."""
        self._check_size(height, width)
        shapes = []
        for level in self._levels():
            height, width = height // 2, width // 2
            shapes.append((level.prior.channels, height, width))
        return shapes

    def sample(self, n: int, height: int, width: int, temperature: float = 1.0) -> torch.Tensor:
        """n samples [n, C, height, width] in data space ([0, 1] for a trained flow).

        Differentiable in the flow's parameters: NFlowJS backpropagates the segmenter's loss
        on the pasted samples into the flow.
        """
        h: torch.Tensor | None = None
        shapes = self.latent_shapes(height, width)
        for level, (_, lh, lw) in zip(reversed(self._levels()), reversed(shapes), strict=True):
            z = level.prior.sample(n, lh, lw, temperature, context=h)
            h = level.inverse(h, z)
        assert h is not None  # a flow has at least one level
        return h + 0.5

    @torch.no_grad()
    def initialize(self, x_uint8: torch.Tensor) -> None:
        """Data-dependent ActNorm initialisation from a batch of 8-bit inlier images."""
        was_training = self.training
        self.train()
        self.log_prob((x_uint8.float() + torch.rand_like(x_uint8.float())) / 256.0)
        self.train(was_training)
