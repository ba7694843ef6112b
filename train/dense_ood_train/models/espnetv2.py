"""ESPNetv2 segmenter (Mehta et al., CVPR 2019), laid out to load EdgeNets' Cityscapes weights.

The encoder is ESPNetv2's EESP network up to stride 16 (the ImageNet network without its
stride-32 level and classifier); the decoder is EdgeNets' segmentation head: at strides 16, 8, 4
and 2, an efficient pyramid pooling block (five depthwise branches at 2x, 1.5x, 1x, 1/2x and
1/10x the feature size), fused with an attention-weighted projection of the encoder feature.
Logits come out at stride 2 and are bilinearly upsampled to the input size.

Module and attribute names follow the state dicts of the published checkpoints
(github.com/sacmehta/EdgeNets, MIT licence, `model/segmentation/model_zoo/espnetv2/`), so
`load_state_dict(strict=True)` takes them as they are; the code here is written anew.
Input: RGB normalised with ImageNet mean / std, as EdgeNets trained them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dense_ood_train.models.frozen_encoder import FreezableEncoder

#: Encoder widths at strides 2, 4, 8 and 16 for each width scale `s`.
ENCODER_CHANNELS: dict[float, tuple[int, int, int, int]] = {
    0.5: (16, 32, 64, 128),
    1.0: (32, 64, 128, 256),
    1.5: (32, 96, 192, 384),
    2.0: (32, 128, 256, 512),
}
#: Cityscapes classes of the EdgeNets checkpoints: trainIds 0..18, then 19 = background
#: (trained with zero loss weight, so it carries nothing).
EDGENETS_CITYSCAPES_CLASSES = 20
#: For each CamVid (SegNet release) class, the EdgeNets Cityscapes channel it starts from:
#: sky, building, pole, road, pavement=sidewalk, tree=vegetation, sign_symbol=traffic sign,
#: fence, car, pedestrian=person, bicyclist=rider.
CAMVID_FROM_CITYSCAPES: tuple[int, ...] = (10, 2, 5, 0, 1, 8, 7, 4, 13, 11, 12)
#: Our 19-class Cityscapes trainIds: the checkpoint's channels without background.
CITYSCAPES19_FROM_CITYSCAPES: tuple[int, ...] = tuple(range(19))

BRANCHES = 4  # parallel dilated branches in every EESP block
PYRAMID_SCALES = (2.0, 1.5, 1.0, 0.5, 0.1)
PYRAMID_MIN_SIZE = 5  # the pooled pyramid branches are at least 5x5
PYRAMID_WIDTH = 10  # EdgeNets' Cityscapes value, min(20 classes // 2, 16)
DECODER_WIDTHS = (64, 48, 32)  # 4x, 3x, 2x EdgeNets' Cityscapes base width 16


def resize(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize with aligned corners, as everywhere in EdgeNets' segmentation nets."""
    return F.interpolate(x, size=(int(size[0]), int(size[1])), mode="bilinear", align_corners=True)


def _pool_axis(x: torch.Tensor, dim: int, out_size: int) -> torch.Tensor:
    """Adaptive average pooling of NCHW `x` along `dim` (2 or 3) from AveragePool, Concat and
    Gather: torch's windows [floor(i*n/m), ceil((i+1)*n/m)) take at most two lengths; pool with
    each length at stride 1 and gather every window's start from the pool of its length."""
    in_size = int(x.shape[dim])
    if in_size % out_size == 0:
        step = in_size // out_size
        kernel = (step, 1) if dim == 2 else (1, step)
        return F.avg_pool2d(x, kernel, kernel)
    starts = [i * in_size // out_size for i in range(out_size)]
    ends = [-(-(i + 1) * in_size // out_size) for i in range(out_size)]
    lengths = sorted({end - start for start, end in zip(starts, ends, strict=True)})
    pools, offsets, offset = [], {}, 0
    for length in lengths:
        kernel = (length, 1) if dim == 2 else (1, length)
        pools.append(F.avg_pool2d(x, kernel, stride=1))
        offsets[length] = offset
        offset += in_size - length + 1
    index = [offsets[end - start] + start for start, end in zip(starts, ends, strict=True)]
    return torch.cat(pools, dim).index_select(dim, torch.tensor(index, device=x.device))


def adaptive_avg_pool2d(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """F.adaptive_avg_pool2d; while exporting to ONNX, an exact decomposition into standard ops
    (the TorchScript exporter refuses output sizes that do not divide the input size)."""
    if not torch.onnx.is_in_onnx_export():
        return F.adaptive_avg_pool2d(x, size)
    return _pool_axis(_pool_axis(x, 2, size[0]), 3, size[1])


class ConvBNAct(nn.Module):
    """Convolution (no bias), batch norm and, if `act`, PReLU (keys conv, bn, act)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
        act: bool = True,
    ) -> None:
        super().__init__()
        padding = (kernel_size - 1) // 2
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False
        )
        self.bn = nn.BatchNorm2d(out_channels)
        self.act: nn.Module = nn.PReLU(out_channels) if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class BNAct(nn.Module):
    """Batch norm, PReLU (keys bn, act)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(x))


class DilatedDepthwiseConv(nn.Module):
    """Depthwise 3x3 convolution with dilation `dilation` (key conv)."""

    def __init__(self, channels: int, dilation: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            channels, channels, 3, stride, dilation, dilation, groups=channels, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class EESP(nn.Module):
    """Extremely efficient spatial pyramid block: grouped 1x1 reduce, `BRANCHES` depthwise 3x3
    branches of growing dilation summed hierarchically, concatenated, grouped 1x1 expand;
    residual and PReLU at stride 1. At stride 2 it returns the expansion before any activation
    (the downsampling block adds and activates); its `module_act` is then unused and frozen,
    kept because the checkpoints hold it."""

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, receptive_limit: int = 7
    ) -> None:
        super().__init__()
        if out_channels % BRANCHES:
            raise ValueError(f"EESP: {out_channels} channels do not split into {BRANCHES}")
        width = out_channels // BRANCHES
        # kernel sizes 3, 5, 7, 9 as dilated 3x3s; past the receptive limit a plain 3x3
        kernels = sorted(k if k <= receptive_limit else 3 for k in range(3, 3 + 2 * BRANCHES, 2))
        self.stride = stride
        self.proj_1x1 = ConvBNAct(in_channels, width, 1, groups=BRANCHES)
        self.spp_dw = nn.ModuleList(
            DilatedDepthwiseConv(width, (k - 1) // 2, stride) for k in kernels
        )
        self.conv_1x1_exp = ConvBNAct(out_channels, out_channels, 1, groups=BRANCHES, act=False)
        self.br_after_cat = BNAct(out_channels)
        self.module_act = nn.PReLU(out_channels)
        if stride == 2:  # unused: frozen, so optimisers and DDP leave it alone
            self.module_act.requires_grad_(False)
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        reduced = self.proj_1x1(x)
        branches = [self.spp_dw[0](reduced)]
        for conv in self.spp_dw[1:]:
            branches.append(conv(reduced) + branches[-1])  # hierarchical feature fusion
        out = self.conv_1x1_exp(self.br_after_cat(torch.cat(branches, 1)))
        if self.stride == 2:
            return out
        if self.residual:
            out = out + x
        return self.module_act(out)


class DownsampleBlock(nn.Module):
    """Strided EESP unit: [3x3 average pool of x, stride-2 EESP of x] concatenated, plus a
    projection of the input image average-pooled to the same size, then PReLU."""

    def __init__(self, in_channels: int, out_channels: int, receptive_limit: int) -> None:
        super().__init__()
        self.eesp = EESP(in_channels, out_channels - in_channels, 2, receptive_limit)
        self.avg = nn.AvgPool2d(3, stride=2, padding=1)
        self.inp_reinf = nn.Sequential(ConvBNAct(3, 3, 3), ConvBNAct(3, out_channels, 1, act=False))
        self.act = nn.PReLU(out_channels)

    def forward(self, x: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        out = torch.cat([self.avg(x), self.eesp(x)], 1)
        return self.act(out + self.inp_reinf(image))


class ESPNetv2Encoder(nn.Module):
    """EESP network: RGB -> features at strides 2, 4, 8 and 16."""

    def __init__(self, s: float = 2.0) -> None:
        super().__init__()
        if s not in ENCODER_CHANNELS:
            raise ValueError(f"ESPNetv2: width scale {s} not in {sorted(ENCODER_CHANNELS)}")
        c1, c2, c3, c4 = ENCODER_CHANNELS[s]
        self.channels = (c1, c2, c3, c4)
        self.level1 = ConvBNAct(3, c1, 3, stride=2)
        self.level2_0 = DownsampleBlock(c1, c2, receptive_limit=13)
        self.level3_0 = DownsampleBlock(c2, c3, receptive_limit=11)
        self.level3 = nn.ModuleList(EESP(c3, c3, receptive_limit=9) for _ in range(3))
        self.level4_0 = DownsampleBlock(c3, c4, receptive_limit=9)
        self.level4 = nn.ModuleList(EESP(c4, c4, receptive_limit=7) for _ in range(7))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        # the image pyramid for input reinforcement: the same 3x3 stride-2 average pool
        image = F.avg_pool2d(F.avg_pool2d(x, 3, 2, 1), 3, 2, 1)
        out2 = self.level1(x)
        out4 = self.level2_0(out2, image)
        image = F.avg_pool2d(image, 3, 2, 1)
        out8 = self.level3_0(out4, image)
        for block in self.level3:
            out8 = block(out8)
        image = F.avg_pool2d(image, 3, 2, 1)
        out16 = self.level4_0(out8, image)
        for block in self.level4:
            out16 = block(out16)
        return [out2, out4, out8, out16]


class DecoderConvBNAct(nn.Module):
    """Convolution (no bias), batch norm, PReLU, stored as `cbr.0`, `cbr.1`, `cbr.2`."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, groups: int = 1
    ) -> None:
        super().__init__()
        self.cbr = nn.Sequential(
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                padding=(kernel_size - 1) // 2,
                groups=groups,
                bias=False,
            ),
            nn.BatchNorm2d(out_channels),
            nn.PReLU(out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cbr(x)


class DecoderBNAct(nn.Module):
    """Batch norm, PReLU, stored as `br.0`, `br.1`."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.br = nn.Sequential(nn.BatchNorm2d(channels), nn.PReLU(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.br(x)


class ChannelShuffle(nn.Module):
    """Interleave the channels of `groups` equal groups."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class EfficientPyramidPool(nn.Module):
    """1x1 projection, depthwise 3x3 at 2x, 1.5x, 1x, 1/2x, 1/10x the size (at least 5x5),
    back to size, fused by a grouped 3x3 and a 1x1 to `out_channels` (+ BN-PReLU unless last)."""

    def __init__(self, in_channels: int, width: int, out_channels: int, last: bool = False) -> None:
        super().__init__()
        branches = len(PYRAMID_SCALES)
        self.projection_layer = DecoderConvBNAct(in_channels, width, 1)
        self.stages = nn.ModuleList(
            nn.Conv2d(width, width, 3, padding=1, groups=width, bias=False) for _ in PYRAMID_SCALES
        )
        self.merge_layer = nn.Sequential(
            DecoderBNAct(width * branches),
            ChannelShuffle(branches),
            DecoderConvBNAct(width * branches, width, 3, groups=width),
            nn.Conv2d(width, out_channels, 1, bias=last),
        )
        self.br: nn.Module = nn.Identity() if last else DecoderBNAct(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.projection_layer(x)
        height, width = int(x.shape[-2]), int(x.shape[-1])
        outputs = []
        for scale, stage in zip(PYRAMID_SCALES, self.stages, strict=True):
            size = (
                max(math.ceil(height * scale), PYRAMID_MIN_SIZE),
                max(math.ceil(width * scale), PYRAMID_MIN_SIZE),
            )
            if scale > 1.0:
                out = adaptive_avg_pool2d(stage(resize(x, size)), (height, width))
            elif scale < 1.0:
                out = resize(stage(adaptive_avg_pool2d(x, size)), (height, width))
            else:
                out = stage(x)
            outputs.append(out)
        return self.br(self.merge_layer(torch.cat(outputs, 1)))


class EfficientPWConv(nn.Module):
    """Encoder-to-decoder projection: grouped 3x3 conv-BN-PReLU, scaled per channel by a sigmoid
    of a 1x1 conv of the globally pooled input."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.wt_layer = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.Sigmoid(),
        )
        groups = math.gcd(in_channels, out_channels)
        self.expansion_layer = DecoderConvBNAct(in_channels, out_channels, 3, groups=groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expansion_layer(x) * self.wt_layer(x)


def init_weights(module: nn.Module) -> None:
    """EdgeNets' initialisation: convolutions Kaiming-normal (fan out) with zero bias, BN 1/0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class ESPNetv2Segmenter(FreezableEncoder):
    """Normalised RGB [N, 3, H, W] -> logits [N, num_classes, H, W] (any H, W).

    `pretrained_file`: an EdgeNets ESPNetv2 Cityscapes checkpoint of the same `s` (or a state dict
    of this class). With num_classes == 20 it loads strictly. Otherwise everything loads except
    the classifier, the last 1x1 convolution `bu_dec_l4.merge_layer.3` (weight
    [20, 10, 1, 1] and bias [20] in the checkpoint): that layer alone is re-initialised, fresh
    (Kaiming normal, zero bias) or, with `classifier_init`, row k copied from checkpoint channel
    `classifier_init[k]` (-1 = fresh; e.g. CAMVID_FROM_CITYSCAPES). The pyramid width (10) does
    not follow num_classes as in EdgeNets, so the whole decoder loads for any num_classes.
    """

    def __init__(
        self,
        num_classes: int,
        s: float = 2.0,
        pretrained_file: str | Path | None = None,
        classifier_init: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.s = s
        self.base_net = ESPNetv2Encoder(s)
        c1, c2, c3, c4 = self.base_net.channels
        d1, d2, d3 = DECODER_WIDTHS
        self.bu_dec_l1 = EfficientPyramidPool(c4, PYRAMID_WIDTH, d1)
        self.bu_dec_l2 = EfficientPyramidPool(d1, PYRAMID_WIDTH, d2)
        self.bu_dec_l3 = EfficientPyramidPool(d2, PYRAMID_WIDTH, d3)
        self.bu_dec_l4 = EfficientPyramidPool(d3, PYRAMID_WIDTH, num_classes, last=True)
        self.merge_enc_dec_l2 = EfficientPWConv(c3, d1)
        self.merge_enc_dec_l3 = EfficientPWConv(c2, d2)
        self.merge_enc_dec_l4 = EfficientPWConv(c1, d3)
        self.bu_br_l2 = nn.Sequential(nn.BatchNorm2d(d1), nn.PReLU(d1))
        self.bu_br_l3 = nn.Sequential(nn.BatchNorm2d(d2), nn.PReLU(d2))
        self.bu_br_l4 = nn.Sequential(nn.BatchNorm2d(d3), nn.PReLU(d3))
        init_weights(self)
        if pretrained_file:
            self.load_pretrained(pretrained_file, classifier_init)
        elif classifier_init is not None:
            raise ValueError("classifier_init needs a pretrained_file")

    @property
    def classifier(self) -> nn.Conv2d:
        """The last 1x1 convolution, 10 pyramid channels -> num_classes."""
        conv = self.bu_dec_l4.merge_layer[3]
        assert isinstance(conv, nn.Conv2d)
        return conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out2, out4, out8, out16 = self.base_net(x)
        y = self.bu_dec_l1(out16)
        stages = (
            (out8, self.merge_enc_dec_l2, self.bu_br_l2, self.bu_dec_l2),
            (out4, self.merge_enc_dec_l3, self.bu_br_l3, self.bu_dec_l3),
            (out2, self.merge_enc_dec_l4, self.bu_br_l4, self.bu_dec_l4),
        )
        for skip, project, norm, pyramid in stages:
            y = resize(y, skip.shape[-2:]) + project(skip)
            y = pyramid(norm(y))
        return resize(y, x.shape[-2:])

    def load_pretrained(
        self, path: str | Path, classifier_init: Sequence[int] | None = None
    ) -> None:
        """Load a checkpoint as the class docstring says; a mismatch is one readable error."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {key.removeprefix("module."): value for key, value in state.items()}
        prefix = "bu_dec_l4.merge_layer.3."
        if prefix + "weight" not in state:
            raise ValueError(f"{path}: not an ESPNetv2 segmentation checkpoint")
        weight, bias = state[prefix + "weight"], state[prefix + "bias"]
        whole = weight.shape[0] == self.num_classes and classifier_init is None
        if not whole:
            state = {key: value for key, value in state.items() if not key.startswith(prefix)}
        try:
            missing, unexpected = self.load_state_dict(state, strict=whole)
        except RuntimeError as error:  # missing keys or other shapes, e.g. another width scale
            raise ValueError(f"{path}: not an ESPNetv2 s={self.s} checkpoint: {error}") from None
        if whole:
            return
        if set(missing) != {prefix + "weight", prefix + "bias"} or unexpected:
            raise ValueError(
                f"{path}: not an ESPNetv2 s={self.s} checkpoint "
                f"(missing {sorted(missing)[:5]}, unexpected {unexpected[:5]})"
            )
        if classifier_init is None:
            return  # the fresh classifier from init_weights
        if len(classifier_init) != self.num_classes or max(classifier_init) >= len(weight):
            raise ValueError(
                f"classifier_init {list(classifier_init)} needs {self.num_classes} entries "
                f"in -1..{len(weight) - 1}"
            )
        classifier = self.classifier
        assert classifier.bias is not None
        with torch.no_grad():
            for row, source in enumerate(classifier_init):
                if source >= 0:
                    classifier.weight[row] = weight[source]
                    classifier.bias[row] = bias[source]

    @property
    def encoder(self) -> nn.Module:
        return self.base_net

    def parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(encoder parameters, decoder + classifier parameters), for per-group learning rates;
        the three unused, frozen `module_act`s of the strided EESP blocks are in neither."""
        encoder = [p for p in self.base_net.parameters() if p.requires_grad]
        decoder = [p for name, p in self.named_parameters() if not name.startswith("base_net.")]
        return encoder, decoder
