"""PyTorch definitions of the published fusion networks we compare against ("peers").

Each class was written from the architecture description in
``<shared>/weights/peers/<Name>/NOTES.md`` (no code taken from the authors' repositories);
attribute names mirror the checkpoints' state_dict keys so the published weights load
strictly. Every ``forward`` takes the peer's own input convention (range, channel order,
separate or concatenated sources) and returns its raw output; pre- and post-processing live
in :mod:`.zoo`. All modules are fully convolutional and export to ONNX with dynamic H and W.

This is the only module of the package that imports torch at import time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["IFCNN", "DIDFuse", "DenseFuse", "SeAFusion", "TarDAL", "U2Fusion"]


# --------------------------------------------------------------------------------------------
# SeAFusion
# --------------------------------------------------------------------------------------------

class _ConvAct(nn.Module):
    """Conv (3x3 "same" by default) followed by leaky ReLU 0.2; key ``conv``."""

    def __init__(self, cin: int, cout: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.conv(x), 0.2)


class _Conv1x1(nn.Module):
    """Plain 1x1 conv with bias; key ``conv`` (wrapper only so the keys match)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class _SeaDense(nn.Module):
    """Two densely connected 3x3 conv layers: c -> 3c channels (input, y1, y2)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = _ConvAct(c, c)
        self.conv2 = _ConvAct(2 * c, c)

    def forward(self, x: Tensor) -> Tensor:
        x = torch.cat((x, self.conv1(x)), 1)
        return torch.cat((x, self.conv2(x)), 1)


class _LearnedSobel(nn.Module):
    """|dx| + |dy| with depthwise 3x3 kernels initialised to Sobel and fine-tuned (loaded, not hard-coded)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.convx = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.convy = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.abs(self.convx(x)) + torch.abs(self.convy(x))


class _RGBD(nn.Module):
    """Residual dense block with a gradient side branch (SeAFusion's RGBD), c -> o channels."""

    def __init__(self, c: int, o: int) -> None:
        super().__init__()
        self.dense = _SeaDense(c)
        self.convdown = _Conv1x1(3 * c, o)
        self.sobelconv = _LearnedSobel(c)
        self.convup = _Conv1x1(c, o)

    def forward(self, x: Tensor) -> Tensor:
        return F.leaky_relu(self.convdown(self.dense(x)) + self.convup(self.sobelconv(x)), 0.1)


class _ConvBnUnused(nn.Module):
    """3x3 conv owning a BatchNorm that the published forward never applies (kept for strict loading)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class SeAFusion(nn.Module):
    """SeAFusion fusion network (Tang, Yuan, Ma, "Image fusion in the loop of high-level vision
    tasks: a semantic-aware real-time infrared and visible image fusion network", Information
    Fusion 82, 2022).

    Inputs: visible Y and infrared, each 1x1xHxW in [0, 1], as separate tensors (visible first).
    Output: fused Y = tanh(.)/2 + 0.5 in (0, 1), before the official min-max stretch.
    """

    def __init__(self) -> None:
        super().__init__()
        for side in ("vis", "inf"):
            setattr(self, f"{side}_conv", _ConvAct(1, 16))
            setattr(self, f"{side}_rgbd1", _RGBD(16, 32))
            setattr(self, f"{side}_rgbd2", _RGBD(32, 48))
        self.decode4 = _ConvBnUnused(96, 64)
        self.decode3 = _ConvBnUnused(64, 32)
        self.decode2 = _ConvBnUnused(32, 16)
        self.decode1 = _ConvBnUnused(16, 1)

    def _encode(self, side: str, x: Tensor) -> Tensor:
        x = getattr(self, f"{side}_conv")(x)
        return getattr(self, f"{side}_rgbd2")(getattr(self, f"{side}_rgbd1")(x))

    def forward(self, vis: Tensor, ir: Tensor) -> Tensor:
        x = torch.cat((self._encode("vis", vis), self._encode("inf", ir)), 1)
        for layer in (self.decode4, self.decode3, self.decode2):
            x = F.leaky_relu(layer(x), 0.2)
        return torch.tanh(self.decode1(x)) / 2 + 0.5


# --------------------------------------------------------------------------------------------
# TarDAL
# --------------------------------------------------------------------------------------------

def _spatial_mean(x: Tensor) -> Tensor:
    """Mean over N, H and W (keepdim), reduced one axis at a time.

    Equal to ``x.mean(dim=(0, 2, 3))`` but numerically closer to it in every runtime: ONNX
    Runtime's single float32 ReduceMean over ~300k pixels drifts by ~1e-4 relative, which
    moved TarDAL's output by 4e-4; axis-by-axis sums of at most a few hundred terms do not.
    """
    return x.mean(dim=3, keepdim=True).mean(dim=2, keepdim=True).mean(dim=0, keepdim=True)


class _SwitchableBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm that can normalise with the current batch's statistics at inference.

    TarDAL-DT's checkpoint says ``use_eval: False``: the official loader runs it in train mode,
    so BN uses per-batch mean/variance (over N, H, W; biased variance) and its stored running
    statistics are meaningless. Written out as reductions instead of ``module.train()`` so the
    behaviour survives ``.eval()`` (which every backend calls) and exports to ONNX faithfully;
    running statistics are never updated.
    """

    def __init__(self, num_features: int, batch_stats: bool = False) -> None:
        super().__init__(num_features)
        self.batch_stats = batch_stats

    def forward(self, x: Tensor) -> Tensor:
        if not self.batch_stats:
            return super().forward(x)
        mean = _spatial_mean(x)
        centred = x - mean
        var = _spatial_mean(centred * centred)
        scale = (self.weight / torch.sqrt(var.flatten() + self.eps)).view(1, -1, 1, 1)
        return centred * scale + self.bias.view(1, -1, 1, 1)


class TarDAL(nn.Module):
    """TarDAL generator (Liu et al., "Target-aware dual adversarial learning and a multi-scenario
    multi-modality benchmark to fuse infrared and visible for object detection", CVPR 2022).

    Input: one 1x2xHxW tensor, channel 0 infrared, channel 1 visible Y, both in [0, 1].
    Output: tanh in (-1, 1), used directly as the fused Y (clipped to [0, 1] when saved).
    ``batch_stats=True`` reproduces the official inference of tardal-dt (``use_eval: False``).
    """

    def __init__(self, batch_stats: bool = False, dim: int = 32, depth: int = 3) -> None:
        super().__init__()
        self.batch_stats = batch_stats

        def bn(c: int) -> nn.Module:
            return _SwitchableBatchNorm2d(c, batch_stats)

        self.encoder = nn.Sequential(nn.Conv2d(2, dim, 3, padding=1), bn(dim), nn.ReLU())
        self.dense = nn.ModuleList(
            nn.Sequential(nn.Conv2d(dim * (i + 1), dim, 3, padding=1), bn(dim), nn.ReLU()) for i in range(depth))
        width = dim * (depth + 1)
        self.fuse = nn.Sequential(
            nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(width, width // 2, 3, padding=1), bn(width // 2), nn.ReLU()),
            nn.Sequential(nn.Conv2d(width // 2, width // 4, 3, padding=1), bn(width // 4), nn.ReLU()),
            nn.Sequential(nn.Conv2d(width // 4, 1, 3, padding=1), nn.Tanh()),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.encoder(x)
        for block in self.dense:
            x = torch.cat((x, block(x)), 1)
        return self.fuse(x)


# --------------------------------------------------------------------------------------------
# DIDFuse
# --------------------------------------------------------------------------------------------

class _Named(nn.Module):
    """Holds one Sequential under a given attribute name (DIDFuse keys read ``cov1.cov1.<i>``)."""

    def __init__(self, name: str, seq: nn.Sequential) -> None:
        super().__init__()
        self._attr = name
        self.add_module(name, seq)

    def forward(self, x: Tensor) -> Tensor:
        return getattr(self, self._attr)(x)


class _DIDEncoder(nn.Module):
    """Shared DIDFuse encoder: returns (f1, f2, base, detail)."""

    def __init__(self, c: int = 64) -> None:
        super().__init__()
        self.cov1 = _Named("cov1", nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(1, c, 3), nn.BatchNorm2d(c),
                                                 nn.PReLU()))
        self.cov2 = _Named("cov2", nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.PReLU()))
        self.cov3 = _Named("cov3", nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.Tanh()))
        self.cov4 = _Named("cov4", nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.Tanh()))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        f1 = self.cov1(x)
        f2 = self.cov2(f1)
        return f1, f2, self.cov3(f2), self.cov4(f2)


class _DIDDecoder(nn.Module):
    """DIDFuse decoder with skip concatenations (base, detail) -> +f2 -> +f1."""

    def __init__(self, c: int = 64) -> None:
        super().__init__()
        self.cov5 = _Named("cov5", nn.Sequential(nn.Conv2d(2 * c, c, 3, padding=1), nn.BatchNorm2d(c), nn.PReLU()))
        self.cov6 = _Named("cov6", nn.Sequential(nn.Conv2d(2 * c, c, 3, padding=1), nn.BatchNorm2d(c), nn.PReLU()))
        self.cov7 = _Named("cov7", nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(2 * c, 1, 3), nn.BatchNorm2d(1),
                                                 nn.Sigmoid()))

    def forward(self, f1: Tensor, f2: Tensor, base: Tensor, detail: Tensor) -> Tensor:
        x = self.cov5(torch.cat((base, detail), 1))
        x = self.cov6(torch.cat((x, f2), 1))
        return self.cov7(torch.cat((x, f1), 1))


class DIDFuse(nn.Module):
    """DIDFuse (Zhao et al., "DIDFuse: deep image decomposition for infrared and visible image
    fusion", IJCAI 2020): one auto-encoder, the four feature maps of both sources summed.

    Inputs: infrared and visible gray, each 1x1xHxW in [0, 1]. Output: sigmoid map in (0, 1).
    ``rule`` is "sum" (the repository default) or "average".
    """

    def __init__(self, rule: str = "sum") -> None:
        super().__init__()
        if rule not in ("sum", "average"):
            raise ValueError(f"DIDFuse rule must be 'sum' or 'average', got {rule!r}")
        self.rule = rule
        self.encoder = _DIDEncoder()
        self.decoder = _DIDDecoder()

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        fi, fv = self.encoder(ir), self.encoder(vis)
        merged = [a + b if self.rule == "sum" else (a + b) / 2 for a, b in zip(fi, fv, strict=True)]
        return self.decoder(*merged)


# --------------------------------------------------------------------------------------------
# IFCNN
# --------------------------------------------------------------------------------------------

class _IFCNNBlock(nn.Module):
    """Replicate-pad 1 -> 3x3 conv (no bias) -> BN -> ReLU."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(F.pad(x, (1, 1, 1, 1), mode="replicate"))))


class IFCNN(nn.Module):
    """IFCNN with element-wise maximum fusion (Zhang et al., "IFCNN: a general image fusion
    framework based on convolutional neural network", Information Fusion 54, 2020).

    Inputs: visible and infrared, each 1x3xHxW in [0, 1] (gray replicated to three channels;
    no normalisation for IR/VIS). Output: 3 channels, unbounded (clamp to [0, 1], then gray).
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, bias=False)  # frozen ResNet-101 stem kernels
        self.conv2 = _IFCNNBlock(64, 64)
        self.conv3 = _IFCNNBlock(64, 64)
        self.conv4 = nn.Conv2d(64, 3, 1)

    def _features(self, x: Tensor) -> Tensor:
        return self.conv2(self.conv1(F.pad(x, (3, 3, 3, 3), mode="replicate")))

    def forward(self, vis: Tensor, ir: Tensor) -> Tensor:
        fused = torch.maximum(self._features(vis), self._features(ir))
        return self.conv4(self.conv3(fused))


# --------------------------------------------------------------------------------------------
# DenseFuse
# --------------------------------------------------------------------------------------------

class _ReflectConvReLU(nn.Module):
    """Reflection pad 1 -> 3x3 conv -> ReLU; key ``conv2d``. ReLU is applied on every layer,
    the last included, as the published model does."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv2d = nn.Conv2d(cin, cout, 3)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect")))


class _DenseUnit(nn.Module):
    def __init__(self, cin: int, growth: int) -> None:
        super().__init__()
        self.dense_conv = _ReflectConvReLU(cin, growth)

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat((x, self.dense_conv(x)), 1)


class _DenseBlock(nn.Module):
    def __init__(self, cin: int = 16, growth: int = 16, units: int = 3) -> None:
        super().__init__()
        self.denseblock = nn.Sequential(*(_DenseUnit(cin + growth * k, growth) for k in range(units)))

    def forward(self, x: Tensor) -> Tensor:
        return self.denseblock(x)


class DenseFuse(nn.Module):
    """DenseFuse (Li and Wu, "DenseFuse: a fusion approach to infrared and visible images",
    IEEE TIP 28(5), 2019), official PyTorch port's gray model, feature-averaging rule.

    Inputs: infrared and visible gray, each 1xCxHxW on a **0-255** scale. Output on 0-255
    (clamp to [0, 255]).
    """

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        self.conv1 = _ReflectConvReLU(channels, 16)
        self.DB1 = _DenseBlock()
        self.conv2 = _ReflectConvReLU(64, 64)
        self.conv3 = _ReflectConvReLU(64, 32)
        self.conv4 = _ReflectConvReLU(32, 16)
        self.conv5 = _ReflectConvReLU(16, channels)

    def forward(self, ir: Tensor, vis: Tensor) -> Tensor:
        fused = (self.DB1(self.conv1(ir)) + self.DB1(self.conv1(vis))) / 2
        return self.conv5(self.conv4(self.conv3(self.conv2(fused))))


# --------------------------------------------------------------------------------------------
# U2Fusion
# --------------------------------------------------------------------------------------------

class _U2Conv(nn.Conv2d):
    """Reflection pad 1 -> 3x3 conv (padding 0) with bias."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(cin, cout, 3)

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(F.pad(x, (1, 1, 1, 1), mode="reflect"))


class _U2Encoder(nn.Module):
    def __init__(self, c: int = 44, blocks: int = 5) -> None:
        super().__init__()
        self.blocks = blocks
        self.conv1_1 = _U2Conv(2, c)
        for k in range(1, blocks + 1):
            setattr(self, f"dense_block_conv{k}", _U2Conv(c * k, c))

    def forward(self, x: Tensor) -> Tensor:
        x = F.leaky_relu(self.conv1_1(x), 0.2)
        for k in range(1, self.blocks + 1):
            x = torch.cat((F.leaky_relu(getattr(self, f"dense_block_conv{k}")(x), 0.2), x), 1)  # new first
        return x


class _U2Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv2_1 = _U2Conv(264, 128)
        self.conv2_2 = _U2Conv(128, 64)
        self.conv2_3 = _U2Conv(64, 32)
        self.conv2_4 = _U2Conv(32, 1)

    def forward(self, x: Tensor) -> Tensor:
        for layer in (self.conv2_1, self.conv2_2, self.conv2_3):
            x = F.leaky_relu(layer(x), 0.2)
        return torch.tanh(self.conv2_4(x)) / 2 + 0.5


class U2Fusion(nn.Module):
    """U2Fusion generator (Xu et al., "U2Fusion: a unified unsupervised image fusion network",
    IEEE TPAMI 44(1), 2022), from the official TF1 checkpoint converted to OIHW.

    Input: one 1x2xHxW tensor, channel 0 visible Y, channel 1 infrared, both in [0, 1].
    Output: tanh/2 + 0.5 in (0, 1).
    """

    def __init__(self) -> None:
        super().__init__()
        self.encoder = _U2Encoder()
        self.decoder = _U2Decoder()

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.encoder(x))
