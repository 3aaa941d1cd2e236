"""The Python glue of the GPU backends, run on the CPU: the CuPy autograd Functions with a fake kernel launcher
that checks what a real launch would receive and computes the reference in its place."""

from __future__ import annotations

import pytest
import torch

from vidinterp import ops
from vidinterp.ops import cupy_backend, library, reference
from vidinterp.ops._validate import PADDING_CODES

_PADDING_NAMES = {code: name for name, code in PADDING_CODES.items()}


class FakeLauncher:
    """Stands in for `cupy_backend._launch`: asserts one element type per launch, then runs the reference."""

    def __init__(self):
        self.launches = []

    def __call__(self, kernel, dtype, device, total, args):
        self.launches.append((kernel, [a is None for a in args]))
        ints = [a for a in args if isinstance(a, int)]
        for position, t in enumerate(args):
            if not isinstance(t, torch.Tensor):
                continue
            if kernel == "warp_backward_kernel" and position == 3:
                assert t.dtype == torch.float32, "the image gradient accumulates in float32"
                continue
            # A kernel instantiated for `dtype` reads every tensor's bytes as `dtype`.
            assert t.dtype == dtype, f"{kernel} for {dtype} handed a {t.dtype} tensor"
            assert t.is_contiguous()
        if kernel == "warp_forward_kernel":
            image, flow, out = args[:3]
            out.copy_(reference.warp_forward(image.double(), flow.double(), _PADDING_NAMES[ints[4]]))
        elif kernel == "warp_backward_kernel":
            grad, image, flow, grad_image, grad_flow = args[:5]
            gi, gf = reference.warp_backward(grad.double(), image.double(), flow.double(), _PADDING_NAMES[ints[4]])
            if grad_image is not None:
                grad_image.add_(gi.float())
            if grad_flow is not None:
                grad_flow.copy_(gf)
        elif kernel.startswith("correlation_forward_tiled_kernel"):  # "...<{t}, d>"
            f0, f1, out = args[:3]
            out.copy_(reference.correlation_forward(f0.double(), f1.double(), int(kernel.split(",")[1].strip(" >"))))
        elif kernel.startswith("correlation_backward_tiled_kernel"):  # "...<{t}, d, false|true>": one gradient
            grad, f0, f1, target = args[:4]
            d, side = (part.strip(" >") for part in kernel.split(",")[1:])
            grads = reference.correlation_backward(grad.double(), f0.double(), f1.double(), int(d))
            target.copy_(grads[side == "true"])
        elif kernel == "correlation_forward_kernel":
            f0, f1, out = args[:3]
            out.copy_(reference.correlation_forward(f0.double(), f1.double(), ints[4]))
        else:
            grad, f0, f1, g0, g1 = args[:5]
            a, b = reference.correlation_backward(grad.double(), f0.double(), f1.double(), ints[4])
            g0.copy_(a)
            g1.copy_(b)


@pytest.fixture
def fake_launch(monkeypatch):
    launcher = FakeLauncher()
    monkeypatch.setattr(cupy_backend, "_launch", launcher)
    return launcher


@pytest.mark.parametrize("image_dtype,flow_dtype", [(torch.bfloat16, torch.float32), (torch.float16, torch.float32),
                                                    (torch.float32, torch.float16)])
def test_cupy_warp_casts_the_flow_to_the_image_dtype(fake_launch, image_dtype, flow_dtype):
    g = torch.Generator().manual_seed(0)
    image = torch.rand(1, 3, 6, 7, generator=g).to(image_dtype).requires_grad_()
    flow = (torch.randn(1, 2, 6, 7, generator=g) * 2).to(flow_dtype).requires_grad_()
    out = cupy_backend.backward_warp(image, flow, "border")
    assert out.dtype == image_dtype
    out.float().sum().backward()
    assert image.grad.dtype == image_dtype and flow.grad.dtype == flow_dtype
    want = reference.warp_forward(image.double(), flow.to(image_dtype).double(), "border")
    assert torch.allclose(out.double(), want, atol=2e-2)


def test_cupy_correlation_casts_f1_to_the_f0_dtype(fake_launch):
    g = torch.Generator().manual_seed(1)
    f0 = torch.randn(1, 4, 5, 6, generator=g).to(torch.bfloat16).requires_grad_()
    f1 = torch.randn(1, 4, 5, 6, generator=g).requires_grad_()
    out = cupy_backend.correlation(f0, f1, 2)
    out.float().sum().backward()
    assert out.dtype == torch.bfloat16 and f0.grad.dtype == torch.bfloat16 and f1.grad.dtype == torch.float32


def test_the_op_wrapper_hands_every_backend_one_dtype_under_autocast(monkeypatch):
    """Under autocast the wrapper accepts mixed image/flow dtypes and must unify them before any backend sees them
    (the dispatcher's autocast cast only covers the torch.ops path; CuPy is called directly)."""
    seen = []

    def record(a, b, arg):
        seen.append((a.dtype, b.dtype))
        return a

    monkeypatch.setattr(library, "backward_warp", record)
    monkeypatch.setattr(library, "correlation", record)
    image = torch.rand(1, 3, 4, 5, dtype=torch.bfloat16)
    flow = torch.zeros(1, 2, 4, 5)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ops.backward_warp(image, flow)
        ops.correlation(image, image.float(), 1)
    assert seen == [(torch.float32, torch.float32)] * 2


def test_cupy_warp_backward_computes_only_the_gradients_asked_for(fake_launch):
    image = torch.rand(1, 3, 5, 6)
    flow = torch.randn(1, 2, 5, 6).requires_grad_()
    cupy_backend.backward_warp(image, flow, "zeros").sum().backward()
    kernel, nulls = fake_launch.launches[-1]
    assert kernel == "warp_backward_kernel" and nulls[3] and not nulls[4]  # no image-gradient scatter
    image.requires_grad_()
    flow = flow.detach()
    cupy_backend.backward_warp(image, flow, "zeros").sum().backward()
    assert fake_launch.launches[-1][1][3:5] == [False, True]
    assert flow.grad is None and image.grad is not None


def test_cupy_warp_backward_raises_the_nondeterminism_alert_for_its_atomics(fake_launch):
    image = torch.rand(1, 3, 5, 6).requires_grad_()
    flow = torch.randn(1, 2, 5, 6).requires_grad_()
    previous = torch.are_deterministic_algorithms_enabled()
    try:
        torch.use_deterministic_algorithms(True)
        with pytest.raises(RuntimeError, match="deterministic"):
            cupy_backend.backward_warp(image, flow, "border").sum().backward()
        # The flow gradient alone is gathered, not scattered: deterministic, so allowed.
        cupy_backend.backward_warp(image.detach(), flow, "border").sum().backward()
        torch.use_deterministic_algorithms(True, warn_only=True)
        with pytest.warns(UserWarning, match="deterministic"):
            cupy_backend.backward_warp(image, flow, "border").sum().backward()
    finally:
        torch.use_deterministic_algorithms(previous)
