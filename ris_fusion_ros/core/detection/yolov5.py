"""YOLOv5n and YOLOv5n-seg written from the layer description in ``<shared>/weights/detectors/NOTES.md``.

The modules are named so that the published state_dicts (``model.<index>.…``) load with
``strict=True``: the weights are a separately obtained AGPL-3.0 asset, never part of this repo.
The head decodes boxes in the graph (YOLOv5 convention), so the exported ONNX file returns
``[B, N, 5 + nc (+ nm)]`` rows of ``cx, cy, w, h`` in input pixels, objectness, class
probabilities (and raw mask coefficients), plus ``[B, nm, H/4, W/4]`` prototypes for the
segmentation model. Any input whose sides are multiples of 32 works (fully convolutional).
Architecture: Jocher et al., Ultralytics YOLOv5 (2020-2022), CSP blocks after Wang et al. 2020.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..errors import ConfigError

BN_EPS = 1e-3  # YOLOv5's BatchNorm eps (not PyTorch's 1e-5; it is not stored in the state_dict)
STRIDES = (8, 16, 32)
HEAD_INDEX = 24


def _torch():
    import torch
    from torch import nn

    return torch, nn


def build_modules():
    """Define the nn.Module classes lazily, so importing this module does not import torch."""
    torch, nn = _torch()

    class Conv(nn.Module):
        """Conv2d -> BatchNorm -> SiLU; with ``fused=True`` the BatchNorm is folded into a biased conv."""

        def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: int | None = None, fused: bool = False):
            super().__init__()
            self.conv = nn.Conv2d(c1, c2, k, s, k // 2 if p is None else p, bias=fused)
            self.bn = nn.Identity() if fused else nn.BatchNorm2d(c2, eps=BN_EPS, momentum=0.03)
            self.act = nn.SiLU()

        def forward(self, x):
            return self.act(self.bn(self.conv(x)))

    class Bottleneck(nn.Module):
        def __init__(self, c: int, shortcut: bool, fused: bool):
            super().__init__()
            self.cv1 = Conv(c, c, 1, fused=fused)
            self.cv2 = Conv(c, c, 3, fused=fused)
            self.add = shortcut

        def forward(self, x):
            y = self.cv2(self.cv1(x))
            return x + y if self.add else y

    class C3(nn.Module):
        """CSP block: [n bottlenecks on cv1(x), bypass cv2(x)] concatenated, then cv3."""

        def __init__(self, c1: int, c2: int, n: int, shortcut: bool, fused: bool):
            super().__init__()
            h = c2 // 2
            self.cv1 = Conv(c1, h, 1, fused=fused)
            self.cv2 = Conv(c1, h, 1, fused=fused)
            self.cv3 = Conv(2 * h, c2, 1, fused=fused)
            self.m = nn.Sequential(*(Bottleneck(h, shortcut, fused) for _ in range(n)))

        def forward(self, x):
            return self.cv3(torch.cat([self.m(self.cv1(x)), self.cv2(x)], 1))

    class SPPF(nn.Module):
        """Spatial pyramid pooling (fast): three chained 5x5 max pools, concatenated with the input."""

        def __init__(self, c1: int, c2: int, fused: bool):
            super().__init__()
            h = c1 // 2
            self.cv1 = Conv(c1, h, 1, fused=fused)
            self.cv2 = Conv(4 * h, c2, 1, fused=fused)
            self.pool = nn.MaxPool2d(5, 1, 2)

        def forward(self, x):
            x = self.cv1(x)
            y1 = self.pool(x)
            y2 = self.pool(y1)
            return self.cv2(torch.cat([x, y1, y2, self.pool(y2)], 1))

    class Proto(nn.Module):
        """Mask prototypes from P3: 3x3 conv, x2 nearest upsample, 3x3 conv, 1x1 conv to nm maps."""

        def __init__(self, c1: int, hidden: int, nm: int, fused: bool):
            super().__init__()
            self.cv1 = Conv(c1, hidden, 3, fused=fused)
            self.cv2 = Conv(hidden, hidden, 3, fused=fused)
            self.cv3 = Conv(hidden, nm, 1, fused=fused)

        def forward(self, x):
            x = nn.functional.interpolate(self.cv1(x), scale_factor=2.0, mode="nearest")
            return self.cv3(self.cv2(x))

    class Detect(nn.Module):
        """Three 1x1 prediction convs and the anchor-based decode (sigmoid on box/obj/classes only)."""

        def __init__(self, nc: int, channels: tuple[int, ...], nm: int = 0, proto: tuple[int, int] | None = None,
                     fused: bool = False):
            super().__init__()
            self.nc, self.nm, self.na = nc, nm, 3
            self.no = 5 + nc + nm
            self.m = nn.ModuleList(nn.Conv2d(c, self.na * self.no, 1) for c in channels)
            self.register_buffer("anchors", torch.zeros(len(channels), self.na, 2))  # grid units, from the weights
            self.proto = Proto(proto[0], proto[1], nm, fused) if nm else None

        def raw(self, features):
            """Undecoded predictions per level, ``[B, na, ny, nx, no]`` (logits), for training losses."""
            return [self.m[level](x).view(x.shape[0], self.na, self.no, x.shape[2], x.shape[3])
                    .permute(0, 1, 3, 4, 2).contiguous() for level, x in enumerate(features)]

        def forward(self, features):
            rows = []
            for level, x in enumerate(features):
                stride = STRIDES[level]
                b, _, ny, nx = x.shape
                p = self.m[level](x).view(b, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2)
                gy = torch.arange(ny, dtype=p.dtype, device=p.device).view(1, 1, ny, 1, 1).expand(1, 1, ny, nx, 1)
                gx = torch.arange(nx, dtype=p.dtype, device=p.device).view(1, 1, 1, nx, 1).expand(1, 1, ny, nx, 1)
                grid = torch.cat([gx, gy], -1) - 0.5
                anchor_px = (self.anchors[level] * stride).view(1, self.na, 1, 1, 2)
                box_obj_cls = p[..., : 5 + self.nc].sigmoid()
                xy = (box_obj_cls[..., 0:2] * 2 + grid) * stride
                wh = (box_obj_cls[..., 2:4] * 2) ** 2 * anchor_px
                parts = [xy, wh, box_obj_cls[..., 4:]]
                if self.nm:
                    parts.append(p[..., 5 + self.nc:])  # mask coefficients stay raw
                rows.append(torch.cat(parts, -1).reshape(b, -1, self.no))
            out = torch.cat(rows, 1)
            if self.proto is not None:
                return out, self.proto(features[0])
            return out

    class YoloV5(nn.Module):
        """YOLOv5 v6/v7 'n' layout (depth 0.33, width 0.25) with the 24-layer index of the weights."""

        def __init__(self, nc: int = 80, nm: int = 0, proto_hidden: int = 64, fused: bool = False):
            super().__init__()
            f = fused
            self.model = nn.ModuleList([
                Conv(3, 16, 6, 2, 2, fused=f),          # 0
                Conv(16, 32, 3, 2, fused=f),            # 1
                C3(32, 32, 1, True, f),                 # 2
                Conv(32, 64, 3, 2, fused=f),            # 3
                C3(64, 64, 2, True, f),                 # 4  P3 skip
                Conv(64, 128, 3, 2, fused=f),           # 5
                C3(128, 128, 3, True, f),               # 6  P4 skip
                Conv(128, 256, 3, 2, fused=f),          # 7
                C3(256, 256, 1, True, f),               # 8
                SPPF(256, 256, f),                      # 9
                Conv(256, 128, 1, fused=f),             # 10
                nn.Upsample(scale_factor=2.0, mode="nearest"),  # 11
                nn.Identity(),                          # 12 concat [11, 6]
                C3(256, 128, 1, False, f),              # 13
                Conv(128, 64, 1, fused=f),              # 14
                nn.Upsample(scale_factor=2.0, mode="nearest"),  # 15
                nn.Identity(),                          # 16 concat [15, 4]
                C3(128, 64, 1, False, f),               # 17 P3 out
                Conv(64, 64, 3, 2, fused=f),            # 18
                nn.Identity(),                          # 19 concat [18, 14]
                C3(128, 128, 1, False, f),              # 20 P4 out
                Conv(128, 128, 3, 2, fused=f),          # 21
                nn.Identity(),                          # 22 concat [21, 10]
                C3(256, 256, 1, False, f),              # 23 P5 out
                Detect(nc, (64, 128, 256), nm, (64, proto_hidden) if nm else None, f),  # 24
            ])

        def backbone(self, x):
            """Layers 0-9: the P3 and P4 skips and the SPPF output."""
            m = self.model
            p3 = m[4](m[3](m[2](m[1](m[0](x)))))
            p4 = m[6](m[5](p3))
            return p3, p4, m[9](m[8](m[7](p4)))

        def neck(self, p3, p4, p5):
            """Layers 10-23: the three feature maps the head predicts from."""
            m = self.model
            x10 = m[10](p5)
            x14 = m[14](m[13](torch.cat([m[11](x10), p4], 1)))
            out3 = m[17](torch.cat([m[15](x14), p3], 1))
            out4 = m[20](torch.cat([m[18](out3), x14], 1))
            out5 = m[23](torch.cat([m[21](out4), x10], 1))
            return [out3, out4, out5]

        def forward(self, x):
            return self.model[24](self.neck(*self.backbone(x)))

    return YoloV5


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The tensors-only checkpoint (``torch.load(weights_only=True)``); ConfigError when missing or odd."""
    torch, _ = _torch()
    if not Path(path).is_file():
        raise ConfigError(f"detector weights not found: {path} (see <shared>/weights/detectors/NOTES.md)")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "names" not in ckpt:
        raise ConfigError(f"{path} is not a YOLOv5 tensors-only checkpoint (expected keys state_dict, names)")
    return ckpt


def build_yolov5(path: Path):
    """The YOLOv5n(-seg) module with the checkpoint loaded strictly, float32, eval mode."""
    ckpt = load_checkpoint(path)
    nm = int(ckpt.get("nm", 0) or 0)
    model = build_modules()(nc=int(ckpt["nc"]), nm=nm, proto_hidden=int(ckpt.get("npr", 64) or 64),
                            fused=bool(ckpt.get("bn_fused", False)))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ConfigError(f"{path}: weights do not fit the YOLOv5n definition: {exc}") from exc
    return model.float().eval()


def class_names(path: Path) -> list[str]:
    return [str(n) for n in load_checkpoint(path)["names"]]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
