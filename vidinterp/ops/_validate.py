"""Input checks shared by every backend, so a bad call fails the same way everywhere."""

from __future__ import annotations

import torch

SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
PADDING_MODES = ("border", "zeros")
# The integer the compiled ops take for each padding mode (the schema has `int padding`).
PADDING_CODES = {"border": 0, "zeros": 1}


def _check_tensor(name: str, value: object) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dim() != 4:
        raise ValueError(f"{name} must be 4-D (N×C×H×W), got shape {tuple(value.shape)}")
    if value.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"{name} must be float32, float64, float16 or bfloat16, got {value.dtype}")
    return value


def check_warp_inputs(image: object, flow: object, padding: object, same_dtype: bool = True) -> None:
    """Raise TypeError/ValueError unless `image` N×C×H×W and `flow` N×2×H×W match and `padding` is known."""
    _check_tensor("image", image)
    _check_tensor("flow", flow)
    if flow.shape[1] != 2:
        raise ValueError(f"flow must have 2 channels (x, y), got shape {tuple(flow.shape)}")
    if (image.shape[0], image.shape[2], image.shape[3]) != (flow.shape[0], flow.shape[2], flow.shape[3]):
        raise ValueError(
            f"image and flow must share N, H and W, got {tuple(image.shape)} and {tuple(flow.shape)}"
        )
    if same_dtype and image.dtype != flow.dtype:
        raise TypeError(f"image and flow must have the same dtype, got {image.dtype} and {flow.dtype}")
    if image.device != flow.device:
        raise ValueError(f"image and flow must be on the same device, got {image.device} and {flow.device}")
    if not isinstance(padding, str) or padding not in PADDING_MODES:
        raise ValueError(f"padding must be one of {PADDING_MODES}, got {padding!r}")


def check_correlation_inputs(f0: object, f1: object, max_displacement: object, same_dtype: bool = True) -> None:
    """Raise TypeError/ValueError unless `f0`, `f1` are equal-shape N×C×H×W and `max_displacement` ≥ 0."""
    _check_tensor("f0", f0)
    _check_tensor("f1", f1)
    if f0.shape != f1.shape:
        raise ValueError(f"f0 and f1 must have the same shape, got {tuple(f0.shape)} and {tuple(f1.shape)}")
    if same_dtype and f0.dtype != f1.dtype:
        raise TypeError(f"f0 and f1 must have the same dtype, got {f0.dtype} and {f1.dtype}")
    if f0.device != f1.device:
        raise ValueError(f"f0 and f1 must be on the same device, got {f0.device} and {f1.device}")
    if isinstance(max_displacement, bool) or not isinstance(max_displacement, int):
        raise TypeError(f"max_displacement must be an int, got {type(max_displacement).__name__}")
    if max_displacement < 0:
        raise ValueError(f"max_displacement must be >= 0, got {max_displacement}")


def check_grad_output(grad: object, shape: tuple[int, ...], like: torch.Tensor) -> None:
    """Raise TypeError/ValueError unless the incoming gradient of a backward op has `shape` and `like`'s device."""
    if not isinstance(grad, torch.Tensor):
        raise TypeError(f"grad_output must be a torch.Tensor, got {type(grad).__name__}")
    if tuple(grad.shape) != tuple(shape):
        raise ValueError(f"grad_output must have shape {tuple(shape)}, got {tuple(grad.shape)}")
    if grad.dtype not in SUPPORTED_DTYPES:
        raise TypeError(f"grad_output must be float32, float64, float16 or bfloat16, got {grad.dtype}")
    if grad.device != like.device:
        raise ValueError(f"grad_output must be on {like.device}, got {grad.device}")


def correlation_shape(f0: torch.Tensor, max_displacement: int) -> tuple[int, int, int, int]:
    """N×(2d+1)²×H×W, the cost volume's shape."""
    k = 2 * max_displacement + 1
    return f0.shape[0], k * k, f0.shape[2], f0.shape[3]
