"""Small building blocks shared by the model components."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

#: slope of the LeakyReLU used everywhere (no batch norm: batch sizes are tiny and inference runs one pair)
NEGATIVE_SLOPE = 0.1


def conv(in_channels: int, out_channels: int, stride: int = 1, activate: bool = True) -> nn.Sequential:
    """3×3 convolution (padding 1), optionally followed by LeakyReLU."""
    layers: list[nn.Module] = [nn.Conv2d(in_channels, out_channels, 3, stride, 1)]
    if activate:
        layers.append(nn.LeakyReLU(NEGATIVE_SLOPE, inplace=True))
    return nn.Sequential(*layers)


def small_init_(layer: nn.Conv2d, scale: float = 0.1) -> nn.Conv2d:
    """Shrink a head's initial weights so an untrained model starts near its prior (small flows, plain blend).

    Not zero: every parameter must receive a gradient from the first step.
    """
    with torch.no_grad():
        layer.weight.mul_(scale)
        if layer.bias is not None:
            layer.bias.zero_()
    return layer


def shrink_factor(height: int, width: int, max_side: int) -> int:
    """The power of two that frames of this size are shrunk by so that their longer side is at most `max_side`
    (1 when `max_side` is 0): the working size of the network and of DIS for large frames."""
    factor = 1
    while max_side and max(height, width) > max_side * factor:
        factor *= 2
    return factor


def upsample(x: torch.Tensor, size: tuple[int, int] | None = None, scale_factor: int | None = None) -> torch.Tensor:
    """Bilinear resize (align_corners=False) of an N×C×h×w map to `size` or by `scale_factor`.

    The input is made NCHW-contiguous first: channels-last input (what convolutions produce when the runtime
    uses that layout) takes the CPU's upsampling kernel 4-5× longer for these few-channel maps.
    """
    return F.interpolate(x.contiguous(), size=size, scale_factor=scale_factor, mode="bilinear", align_corners=False)


def upsample_flow(flow: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinearly upsample an N×2×h×w flow by `factor` and rescale its values to the new pixel size."""
    if factor == 1:
        return flow
    return upsample(flow, scale_factor=factor) * factor


def downsample_flow(flow: torch.Tensor, factor: int) -> torch.Tensor:
    """Box-filter an N×2×H×W flow by `factor` (H and W multiples of it) and rescale its values to the new pixel
    size: the inverse of `upsample_flow` for smooth flows."""
    if factor == 1:
        return flow
    return F.avg_pool2d(flow, factor) / factor


def time_channel(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A constant N×1×h×w channel holding t[n] (t is a length-N tensor), shaped and typed like `like`."""
    return t.to(like.dtype).view(-1, 1, 1, 1).expand(-1, 1, *like.shape[-2:])


def cat_for_conv(maps: list[torch.Tensor]) -> torch.Tensor:
    """The maps concatenated along channels, in the dtype autocast gives a convolution's input (bf16 under CPU
    autocast): one copy where concatenating in float32 and casting made two (at 720p the synthesis input is
    9 MB in float32)."""
    device = maps[0].device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else maps[0].dtype
    return torch.cat([m.to(dtype) for m in maps], dim=1)
