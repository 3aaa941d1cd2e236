"""One gradient convention for bilinear sampling at integer positions and borders (see `vidinterp.ops.reference`),
followed by the reference, the CPU op (grid_sample-based) and, in tests/test_ops_kernels_host.py, the CUDA kernel."""

from __future__ import annotations

import pytest
import torch

from vidinterp.ops import library, reference

H, W = 7, 9


def _flows():
    g = torch.Generator().manual_seed(3)
    border = torch.zeros(2, 2, H, W, dtype=torch.float64)
    # Samples exactly on every border line, and just outside it.
    border[0, 0, 2] = -torch.arange(W, dtype=torch.float64)  # x = 0 exactly along row 2
    border[0, 0, 3] = (W - 1) - torch.arange(W, dtype=torch.float64)  # x = W − 1 exactly along row 3
    border[1, 1, :, 4] = -torch.arange(H, dtype=torch.float64) - 1.0  # y = −1, outside
    return {
        "zero": torch.zeros(2, 2, H, W, dtype=torch.float64),
        "integer": torch.randint(-3, 4, (2, 2, H, W), generator=g).double(),
        "half-integer": torch.randint(-6, 7, (2, 2, H, W), generator=g).double() / 2,
        "on the border": border,
    }


def _op_gradients(image, flow, grad, padding):
    image = image.clone().requires_grad_()
    flow = flow.clone().requires_grad_()
    library.ensure_registered()
    out = torch.ops.vidinterp.backward_warp(image, flow, 0 if padding == "border" else 1)
    out.backward(grad)
    return image.grad, flow.grad


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("case", list(_flows()))
def test_cpu_op_gradients_follow_the_reference_at_integer_positions_and_borders(case, padding, dtype):
    g = torch.Generator().manual_seed(4)
    image = torch.randn(2, 3, H, W, generator=g, dtype=torch.float64) * 4
    grad = torch.randn(2, 3, H, W, generator=g, dtype=torch.float64)
    flow = _flows()[case]
    want_image, want_flow = reference.warp_backward(grad, image, flow, padding)
    got_image, got_flow = _op_gradients(image.to(dtype), flow.to(dtype), grad.to(dtype), padding)
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    scale = float(want_flow.abs().max()) + 1.0
    torch.testing.assert_close(got_flow.double(), want_flow, atol=tol * scale, rtol=tol)
    torch.testing.assert_close(got_image.double(), want_image, atol=tol * 4, rtol=tol)


def test_the_documented_values_at_zero_flow():
    """Interior: the difference to the next pixel; last column: to the previous one ("border") or to the zero
    beyond the image ("zeros"); the clamp at the first column still passes the gradient."""
    row = torch.tensor([1.0, 4.0, 9.0, 16.0], dtype=torch.float64)
    image = row.view(1, 1, 1, 4).expand(1, 1, 2, 4).contiguous()
    flow = torch.zeros(1, 2, 2, 4, dtype=torch.float64)
    grad = torch.ones(1, 1, 2, 4, dtype=torch.float64)
    for padding, last in (("border", 16.0 - 9.0), ("zeros", -16.0)):
        want = torch.tensor([3.0, 5.0, 7.0, last], dtype=torch.float64)
        _, ref_flow = reference.warp_backward(grad, image, flow, padding)
        _, op_flow = _op_gradients(image, flow, grad, padding)
        for got in (ref_flow, op_flow):
            torch.testing.assert_close(got[0, 0, 0], want)
