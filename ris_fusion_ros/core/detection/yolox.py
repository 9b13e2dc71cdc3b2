"""YOLOX-Nano written from its description (Ge et al., "YOLOX: Exceeding YOLO Series in 2021"):
Focus stem, CSPDarknet with depthwise-separable convolutions (depth 0.33, width 0.25), PAFPN, and a
decoupled head (class branch; box + objectness branch) on strides 8 / 16 / 32.

The published model is an Apache-2.0 ONNX file with BatchNorm folded into the convolutions and numeric
initializer names, so :func:`load_onnx_weights` fills this definition by walking both graphs in
execution order (every convolution must agree in shape; the parity test checks the outputs). The
forward pass returns YOLOX's inference rows ``[B, N, 5 + nc]``: raw box offsets (decoded by
``decode.candidates``), sigmoid objectness and class probabilities; :meth:`raw` gives the per-level
logits that training needs. Any input whose sides are multiples of 32 works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ConfigError

STRIDES = (8, 16, 32)
WIDTH = 0.25
DEPTH = 0.33
BACKBONE_STAGES = ("stem", "dark2", "dark3", "dark4", "dark5")
LICENSE = "Apache-2.0: fine-tuned from Megvii YOLOX-Nano (Apache-2.0); weights changed by ris_fusion_ros training"


def _torch():
    import torch
    from torch import nn

    return torch, nn


def build_modules():
    """Define the nn.Module classes lazily, so importing this module does not import torch."""
    torch, nn = _torch()

    class BaseConv(nn.Module):
        """Conv2d (BatchNorm folded in, hence biased) -> SiLU."""

        def __init__(self, c1: int, c2: int, k: int, s: int = 1, groups: int = 1):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, (k - 1) // 2, groups=groups, bias=True)
            self.act = nn.SiLU()

        def forward(self, x):
            return self.act(self.conv(x))

    class DWConv(nn.Module):
        """Depthwise k x k, then pointwise 1 x 1 (each with its activation)."""

        def __init__(self, c1: int, c2: int, k: int, s: int = 1):
            super().__init__()
            self.dconv = BaseConv(c1, c1, k, s, groups=c1)
            self.pconv = BaseConv(c1, c2, 1)

        def forward(self, x):
            return self.pconv(self.dconv(x))

    class Bottleneck(nn.Module):
        def __init__(self, c: int, shortcut: bool):
            super().__init__()
            self.conv1 = BaseConv(c, c, 1)
            self.conv2 = DWConv(c, c, 3)
            self.add = shortcut

        def forward(self, x):
            y = self.conv2(self.conv1(x))
            return x + y if self.add else y

    class CSPLayer(nn.Module):
        """Cross-stage partial block: n bottlenecks on one half, a bypass on the other, then a 1x1 merge."""

        def __init__(self, c1: int, c2: int, n: int, shortcut: bool = True):
            super().__init__()
            h = c2 // 2
            self.conv1 = BaseConv(c1, h, 1)
            self.conv2 = BaseConv(c1, h, 1)
            self.conv3 = BaseConv(2 * h, c2, 1)
            self.m = nn.Sequential(*(Bottleneck(h, shortcut) for _ in range(n)))

        def forward(self, x):
            half, bypass = self.conv1(x), self.conv2(x)  # in this order: the ONNX weights are matched by it
            return self.conv3(torch.cat([self.m(half), bypass], 1))

    class SPPBottleneck(nn.Module):
        """Spatial pyramid pooling with parallel 5 / 9 / 13 max pools."""

        def __init__(self, c1: int, c2: int):
            super().__init__()
            h = c1 // 2
            self.conv1 = BaseConv(c1, h, 1)
            self.pools = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in (5, 9, 13))
            self.conv2 = BaseConv(4 * h, c2, 1)

        def forward(self, x):
            x = self.conv1(x)
            return self.conv2(torch.cat([x] + [pool(x) for pool in self.pools], 1))

    class Focus(nn.Module):
        """Space-to-depth (four pixel phases stacked as channels), then a 3x3 convolution."""

        def __init__(self, c1: int, c2: int):
            super().__init__()
            self.conv = BaseConv(4 * c1, c2, 3)

        def forward(self, x):
            return self.conv(torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2],
                                        x[..., 1::2, 1::2]], 1))

    class Backbone(nn.Module):
        def __init__(self):
            super().__init__()
            c = int(64 * WIDTH)
            n = max(round(3 * DEPTH), 1)
            self.stem = Focus(3, c)
            self.dark2 = nn.Sequential(DWConv(c, 2 * c, 3, 2), CSPLayer(2 * c, 2 * c, n))
            self.dark3 = nn.Sequential(DWConv(2 * c, 4 * c, 3, 2), CSPLayer(4 * c, 4 * c, 3 * n))
            self.dark4 = nn.Sequential(DWConv(4 * c, 8 * c, 3, 2), CSPLayer(8 * c, 8 * c, 3 * n))
            self.dark5 = nn.Sequential(DWConv(8 * c, 16 * c, 3, 2), SPPBottleneck(16 * c, 16 * c),
                                       CSPLayer(16 * c, 16 * c, n, shortcut=False))

        def forward(self, x):
            x = self.dark2(self.stem(x))
            c3 = self.dark3(x)
            c4 = self.dark4(c3)
            return c3, c4, self.dark5(c4)

    class PAFPN(nn.Module):
        """Top-down then bottom-up path aggregation over strides 8 / 16 / 32."""

        def __init__(self):
            super().__init__()
            c3, c4, c5 = (int(ch * WIDTH) for ch in (256, 512, 1024))
            n = max(round(3 * DEPTH), 1)
            self.lateral_conv0 = BaseConv(c5, c4, 1)
            self.C3_p4 = CSPLayer(2 * c4, c4, n, False)
            self.reduce_conv1 = BaseConv(c4, c3, 1)
            self.C3_p3 = CSPLayer(2 * c3, c3, n, False)
            self.bu_conv2 = DWConv(c3, c3, 3, 2)
            self.C3_n3 = CSPLayer(2 * c3, c4, n, False)
            self.bu_conv1 = DWConv(c4, c4, 3, 2)
            self.C3_n4 = CSPLayer(2 * c4, c5, n, False)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")

        def forward(self, c3, c4, c5):
            top5 = self.lateral_conv0(c5)
            p4 = self.C3_p4(torch.cat([self.up(top5), c4], 1))
            top4 = self.reduce_conv1(p4)
            out3 = self.C3_p3(torch.cat([self.up(top4), c3], 1))
            out4 = self.C3_n3(torch.cat([self.bu_conv2(out3), top4], 1))
            out5 = self.C3_n4(torch.cat([self.bu_conv1(out4), top5], 1))
            return out3, out4, out5

    class Head(nn.Module):
        """Decoupled head per level: 1x1 stem, two 3x3 class convs, two 3x3 box convs."""

        def __init__(self, nc: int):
            super().__init__()
            self.nc = nc
            hidden = int(256 * WIDTH)
            ins = [int(ch * WIDTH) for ch in (256, 512, 1024)]
            self.stems = nn.ModuleList(BaseConv(c, hidden, 1) for c in ins)
            self.cls_convs = nn.ModuleList(nn.Sequential(DWConv(hidden, hidden, 3), DWConv(hidden, hidden, 3))
                                           for _ in ins)
            self.reg_convs = nn.ModuleList(nn.Sequential(DWConv(hidden, hidden, 3), DWConv(hidden, hidden, 3))
                                           for _ in ins)
            self.cls_preds = nn.ModuleList(nn.Conv2d(hidden, nc, 1) for _ in ins)
            self.reg_preds = nn.ModuleList(nn.Conv2d(hidden, 4, 1) for _ in ins)
            self.obj_preds = nn.ModuleList(nn.Conv2d(hidden, 1, 1) for _ in ins)

        def raw(self, features):
            """Per level ``[B, 5 + nc, H, W]``: box offsets, objectness logit, class logits."""
            out = []
            for i, x in enumerate(features):
                x = self.stems[i](x)
                cls = self.cls_preds[i](self.cls_convs[i](x))
                reg_feat = self.reg_convs[i](x)
                out.append(torch.cat([self.reg_preds[i](reg_feat), self.obj_preds[i](reg_feat), cls], 1))
            return out

        def forward(self, features):
            rows = []
            for level in self.raw(features):
                rows.append(torch.cat([level[:, :4], level[:, 4:].sigmoid()], 1).flatten(2))
            return torch.cat(rows, 2).permute(0, 2, 1)

    class YoloX(nn.Module):
        def __init__(self, nc: int = 80):
            super().__init__()
            self.backbone = Backbone()
            self.neck = PAFPN()
            self.head = Head(nc)

        def raw(self, x):
            return self.head.raw(self.neck(*self.backbone(x)))

        def forward(self, x):
            return self.head(self.neck(*self.backbone(x)))

    return YoloX


def build_yolox(nc: int = 80):
    """An untrained YOLOX-Nano with ``nc`` classes."""
    return build_modules()(nc)


def _onnx_conv_weights(path: Path) -> tuple[list[tuple[Any, Any]], int]:
    """(weight, bias) arrays of every Conv node of the ONNX file, in graph order, and the width of its
    output rows (5 + nc; 0 when not fixed)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = []
    for node in graph.node:
        if node.op_type == "Conv":
            if len(node.input) < 3 or node.input[1] not in init or node.input[2] not in init:
                raise ConfigError(f"{path}: convolution {node.name or node.output[0]} has no constant weight and bias")
            convs.append((init[node.input[1]], init[node.input[2]]))
    dims = graph.output[0].type.tensor_type.shape.dim
    return convs, int(dims[-1].dim_value) if dims else 0


def _convs_in_call_order(model) -> list[Any]:
    """The model's Conv2d modules in the order a forward pass calls them."""
    torch, nn = _torch()
    order: list[Any] = []
    hooks = [m.register_forward_hook(lambda mod, _i, _o: order.append(mod))
             for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, 64, 64))
    finally:
        for h in hooks:
            h.remove()
    return order


def load_onnx_weights(path: Path, nc: int | None = None):
    """YOLOX-Nano with the weights of a (BatchNorm-folded) YOLOX-Nano ONNX export such as
    ``<shared>/weights/detectors/yolox_nano.onnx``; ``nc`` is read from the class convolutions."""
    torch, _ = _torch()
    convs, row_width = _onnx_conv_weights(Path(path))
    found = nc if nc is not None else row_width - 5
    if found <= 0:
        raise ConfigError(f"{path}: cannot tell the class count from its output rows (width {row_width})")
    model = build_yolox(found)
    modules = _convs_in_call_order(model)
    if len(modules) != len(convs):
        raise ConfigError(f"{path}: {len(convs)} convolutions, YOLOX-Nano has {len(modules)}; not a YOLOX-Nano export")
    with torch.no_grad():
        for index, (module, (weight, bias)) in enumerate(zip(modules, convs, strict=True)):
            if tuple(module.weight.shape) != weight.shape or tuple(module.bias.shape) != bias.shape:
                raise ConfigError(f"{path}: convolution {index} is {list(weight.shape)}, YOLOX-Nano expects "
                                  f"{list(module.weight.shape)}")
            module.weight.copy_(torch.from_numpy(weight.copy()))
            module.bias.copy_(torch.from_numpy(bias.copy()))
    return model.eval()
