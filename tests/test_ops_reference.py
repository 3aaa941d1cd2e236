"""The PyTorch backend against slow loop implementations, gradients, edge cases and bad input."""

from __future__ import annotations

import math

import pytest
import torch

from tolerances import assert_close_to_scale
from vidinterp import ops
from vidinterp.ops import reference


def loop_warp(image: torch.Tensor, flow: torch.Tensor, padding: str) -> torch.Tensor:
    """Pixel-by-pixel bilinear warp in float64 written from the spec (independent of the reference)."""
    n, c, h, w = image.shape
    out = torch.zeros(n, c, h, w, dtype=torch.float64)
    img = image.double()
    for b in range(n):
        for y in range(h):
            for x in range(w):
                px = x + float(flow[b, 0, y, x])
                py = y + float(flow[b, 1, y, x])
                if math.isnan(px) or math.isnan(py):
                    continue
                if padding == "border":
                    px = min(max(px, 0.0), w - 1)
                    py = min(max(py, 0.0), h - 1)
                x0, y0 = math.floor(px), math.floor(py)
                for yy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
                    for xx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
                        if wx * wy == 0:
                            continue
                        if padding == "border":
                            yy_c, xx_c = min(yy, h - 1), min(xx, w - 1)
                        elif 0 <= yy < h and 0 <= xx < w:
                            yy_c, xx_c = yy, xx
                        else:
                            continue
                        out[b, :, y, x] += wx * wy * img[b, :, yy_c, xx_c]
    return out


def loop_correlation(f0: torch.Tensor, f1: torch.Tensor, d: int) -> torch.Tensor:
    n, c, h, w = f0.shape
    k = 2 * d + 1
    out = torch.zeros(n, k * k, h, w, dtype=torch.float64)
    for dy in range(-d, d + 1):
        for dx in range(-d, d + 1):
            for y in range(h):
                for x in range(w):
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        prod = f0[:, :, y, x].double() * f1[:, :, y + dy, x + dx].double()
                        out[:, (dy + d) * k + dx + d, y, x] = prod.mean(1)
    return out


def random_flow(n, h, w, scale=3.0, dtype=torch.float64, seed=0):
    """Non-integer flows reaching outside the image (bilinear warp has kinks at integer positions)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 2, h, w, generator=g, dtype=torch.float64) * scale + 0.37).to(dtype)


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_warp_matches_loop(padding):
    image = torch.randn(2, 3, 6, 7, dtype=torch.float64)
    flow = random_flow(2, 6, 7)
    torch.testing.assert_close(reference.warp_forward(image, flow, padding), loop_warp(image, flow, padding))
    with torch.no_grad():  # the CPU inference fast path (grid_sample) must agree too
        fast = ops.backward_warp(image.float(), flow.float(), padding)
    torch.testing.assert_close(fast.double(), loop_warp(image, flow, padding), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_warp_matches_grid_sample(padding):
    image = torch.randn(1, 4, 9, 11, dtype=torch.float64)
    flow = random_flow(1, 9, 11, seed=3)
    xs = torch.arange(11, dtype=torch.float64) + flow[:, 0]
    ys = torch.arange(9, dtype=torch.float64).view(9, 1) + flow[:, 1]
    grid = torch.stack([2 * xs / 10 - 1, 2 * ys / 8 - 1], -1)
    want = torch.nn.functional.grid_sample(image, grid, align_corners=True, padding_mode=padding)
    torch.testing.assert_close(ops.backward_warp(image, flow, padding), want)


def test_zero_flow_is_identity_and_integer_flow_shifts():
    image = torch.randn(1, 2, 5, 6)
    # Exact in the reference; the vectorised (grid_sample) path is within the rounding of its normalisation.
    assert torch.equal(reference.warp_forward(image.double(), torch.zeros(1, 2, 5, 6).double()), image.double())
    torch.testing.assert_close(ops.backward_warp(image.double(), torch.zeros(1, 2, 5, 6).double()), image.double())
    torch.testing.assert_close(ops.backward_warp(image, torch.zeros(1, 2, 5, 6)), image)
    flow = torch.zeros(1, 2, 5, 6)
    flow[:, 0] = 1.0  # read one pixel to the right
    out = ops.backward_warp(image, flow, "zeros")
    torch.testing.assert_close(out[..., :-1], image[..., 1:])
    assert torch.all(out[..., -1] == 0)


@pytest.mark.parametrize("d", [0, 1, 3])
def test_correlation_matches_loop(d):
    f0 = torch.randn(2, 5, 6, 7, dtype=torch.float64)
    f1 = torch.randn(2, 5, 6, 7, dtype=torch.float64)
    out = ops.correlation(f0, f1, d)
    assert out.shape == (2, (2 * d + 1) ** 2, 6, 7)
    torch.testing.assert_close(out, loop_correlation(f0, f1, d))


def test_correlation_larger_displacement_than_image():
    g = torch.Generator().manual_seed(0)
    f0, f1 = torch.randn(1, 3, 2, 3, generator=g), torch.randn(1, 3, 2, 3, generator=g)
    # float32 sums of products: rounding scales with the products' size, not with the (possibly ~0) result
    product_scale = float(f0.abs().max() * f1.abs().max())
    assert_close_to_scale(ops.correlation(f0, f1, 4).double(), loop_correlation(f0, f1, 4), rtol=1e-5,
                          floor=product_scale)


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_warp_gradcheck(padding):
    image = torch.randn(2, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    flow = random_flow(2, 4, 5, scale=2.0, seed=1).requires_grad_()
    assert torch.autograd.gradcheck(lambda i, f: ops.backward_warp(i, f, padding), (image, flow), fast_mode=True)


def test_correlation_gradcheck():
    f0 = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    f1 = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ops.correlation(a, b, 2), (f0, f1), fast_mode=True)


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_warp_backward_matches_autograd_of_grid_sample(padding):
    image = torch.randn(1, 3, 8, 9, dtype=torch.float64, requires_grad=True)
    flow = random_flow(1, 8, 9, scale=4.0, seed=2).requires_grad_()
    xs = torch.arange(9, dtype=torch.float64) + flow[:, 0]
    ys = torch.arange(8, dtype=torch.float64).view(8, 1) + flow[:, 1]
    grid = torch.stack([2 * xs / 8 - 1, 2 * ys / 7 - 1], -1)
    want = torch.nn.functional.grid_sample(image, grid, align_corners=True, padding_mode=padding)
    grad = torch.randn_like(want)
    want_i, want_f = torch.autograd.grad(want, (image, flow), grad)
    got_i, got_f = reference.warp_backward(grad, image.detach(), flow.detach(), padding)
    torch.testing.assert_close(got_i, want_i)
    torch.testing.assert_close(got_f, want_f)


DTYPE_TOL = {torch.float32: 1e-5, torch.float64: 1e-12, torch.float16: 2e-3, torch.bfloat16: 2e-2}


@pytest.mark.parametrize("dtype", list(DTYPE_TOL))
@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_warp_dtypes(dtype, padding):
    image = torch.rand(1, 3, 7, 8, dtype=torch.float64)
    flow = random_flow(1, 7, 8, seed=4)
    want = reference.warp_forward(image, flow.to(dtype).double(), padding)
    for grad in (False, True):
        i, f = image.to(dtype).requires_grad_(grad), flow.to(dtype).requires_grad_(grad)
        out = ops.backward_warp(i, f, padding)
        assert out.dtype == dtype and out.shape == image.shape
        tol = DTYPE_TOL[dtype]
        torch.testing.assert_close(out.double(), want, atol=tol * 4, rtol=tol * 4)
        if grad:
            out.sum().backward()
            assert i.grad.dtype == dtype and f.grad.dtype == dtype


@pytest.mark.parametrize("dtype", list(DTYPE_TOL))
def test_correlation_dtypes(dtype):
    f0, f1 = torch.rand(1, 8, 5, 6, dtype=torch.float64), torch.rand(1, 8, 5, 6, dtype=torch.float64)
    a, b = f0.to(dtype).requires_grad_(), f1.to(dtype).requires_grad_()
    out = ops.correlation(a, b, 2)
    assert out.dtype == dtype
    want = reference.correlation_forward(a.detach().double(), b.detach().double(), 2)
    tol = DTYPE_TOL[dtype]
    torch.testing.assert_close(out.double(), want, atol=tol * 4, rtol=tol * 4)
    out.sum().backward()
    assert a.grad.dtype == dtype and b.grad.dtype == dtype


def test_fp16_positions_stay_exact_at_4k():
    """fp16 cannot hold x = 3800.5; coordinates are computed in fp32 so +0.5 px is the exact neighbour average."""
    image = torch.rand(1, 3, 4, 3840).half()
    flow = torch.zeros(1, 2, 4, 3840).half()
    flow[:, 0] = 0.5
    want = ((image[..., 3800].float() + image[..., 3801].float()) / 2).half()
    for requires_grad in (False, True):
        out = ops.backward_warp(image.clone().requires_grad_(requires_grad), flow, "border")
        assert torch.equal(out[..., 3800], want)


@pytest.mark.parametrize(
    "layout",
    [
        lambda t: t.to(memory_format=torch.channels_last),
        lambda t: t.transpose(2, 3).contiguous().transpose(2, 3),
        lambda t: torch.stack([t, t], 2).flatten(1, 2)[:, ::2],
    ],
    ids=["channels_last", "transposed", "sliced"],
)
def test_non_contiguous_inputs(layout):
    image = torch.randn(2, 4, 6, 5, dtype=torch.float64)
    flow = random_flow(2, 6, 5, seed=5)
    f1 = torch.randn(2, 4, 6, 5, dtype=torch.float64)
    torch.testing.assert_close(ops.backward_warp(layout(image), layout(flow)), ops.backward_warp(image, flow))
    torch.testing.assert_close(ops.correlation(layout(image), layout(f1), 2), ops.correlation(image, f1, 2))
    i, f = layout(image).requires_grad_(), layout(flow).requires_grad_()
    ops.backward_warp(i, f, "zeros").sum().backward()
    ri, rf = reference.warp_backward(torch.ones_like(image), image, flow, "zeros")
    torch.testing.assert_close(i.grad, ri)
    torch.testing.assert_close(f.grad, rf)


@pytest.mark.parametrize("with_nan", [True, False])  # the CPU kernel skips the NaN work when there is none
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nan_inf_and_huge_flows(dtype, with_nan):
    image = torch.rand(1, 2, 4, 5, dtype=dtype) + 1.0
    flow = torch.zeros(1, 2, 4, 5, dtype=dtype)
    flow[0, 0, 0, 0] = float("nan") if with_nan else -1e30
    flow[0, 1, 1, 1] = float("inf")
    flow[0, 0, 2, 2] = -1e30
    flow[0, 0, 3, 3] = 1e30
    for grad in (False, True):
        i, f = image.clone().requires_grad_(grad), flow.clone().requires_grad_(grad)
        border = ops.backward_warp(i, f, "border")
        zeros = ops.backward_warp(i, f, "zeros")
        assert not torch.isnan(border).any() and not torch.isnan(zeros).any()
        assert torch.all(zeros[0, :, 0, 0] == 0)
        if with_nan:
            assert torch.all(border[0, :, 0, 0] == 0)  # NaN → 0
        else:
            torch.testing.assert_close(border[0, :, 0, 0], image[0, :, 0, 0])  # huge -x clamps to the first column
        torch.testing.assert_close(border[0, :, 1, 1], image[0, :, 3, 1])  # +inf y clamps to the last row
        torch.testing.assert_close(border[0, :, 2, 2], image[0, :, 2, 0])  # huge -x clamps to the first column
        torch.testing.assert_close(border[0, :, 3, 3], image[0, :, 3, 4])
        for p in (1, 2, 3):
            assert torch.all(zeros[0, :, p, p] == 0)
        if grad:
            (border.sum() + zeros.sum()).backward()
            assert torch.isfinite(i.grad).all() and torch.isfinite(f.grad).all()
            if with_nan:
                assert torch.all(f.grad[0, :, 0, 0] == 0)  # NaN: no gradient
            else:
                # Far outside in x: no x gradient; "border" still reads column 0, whose y derivative is the
                # difference down that column (the gradient convention; "zeros" reads nothing there).
                assert f.grad[0, 0, 0, 0] == 0
                _, want = reference.warp_backward(torch.ones_like(image), image, flow, "border")
                torch.testing.assert_close(f.grad[0, 1, 0, 0], want[0, 1, 0, 0])


def test_empty_batch_and_channels():
    for shape in [(0, 3, 4, 5), (2, 0, 4, 5)]:
        image = torch.randn(*shape, requires_grad=True)
        flow = torch.zeros(shape[0], 2, 4, 5, requires_grad=True)
        out = ops.backward_warp(image, flow)
        assert out.shape == shape
        out.sum().backward()
        assert image.grad.shape == shape and flow.grad.shape == flow.shape
        corr = ops.correlation(image, image.detach(), 1)
        assert corr.shape == (shape[0], 9, 4, 5) and torch.all(corr == 0)


def test_one_pixel_axes():
    image = torch.randn(1, 2, 1, 6, dtype=torch.float64)
    flow = random_flow(1, 1, 6, seed=6)
    for padding in ("border", "zeros"):
        torch.testing.assert_close(ops.backward_warp(image, flow, padding), loop_warp(image, flow, padding))
        with torch.no_grad():
            fast = ops.backward_warp(image.float(), flow.float(), padding)
        torch.testing.assert_close(fast.double(), loop_warp(image, flow, padding), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("budget, products, largest", [(10**9, 5, 5), (0, 25, 1)])
def test_correlation_memory_is_bounded(monkeypatch, budget, products, largest):
    """Never (2d+1)² shifted copies at once: one row of 2d+1 products, or one product above the row budget."""
    calls = []
    original = torch.Tensor.__mul__

    def spy(a, b):
        out = original(a, b)
        calls.append(out.numel())
        return out

    f0 = torch.randn(1, 4, 5, 6, dtype=torch.float64)
    f1 = torch.randn(1, 4, 5, 6, dtype=torch.float64)
    monkeypatch.setattr(reference, "ROW_BUDGET_BYTES", budget)
    monkeypatch.setattr(torch.Tensor, "__mul__", spy)
    out = reference.correlation_forward(f0, f1, 2)
    monkeypatch.undo()
    assert len(calls) == products and max(calls) == largest * f0.numel()
    torch.testing.assert_close(out, loop_correlation(f0, f1, 2))


def test_bad_inputs():
    image, flow = torch.zeros(1, 3, 4, 5), torch.zeros(1, 2, 4, 5)
    with pytest.raises(ValueError, match="4-D"):
        ops.backward_warp(image[0], flow)
    with pytest.raises(ValueError, match="2 channels"):
        ops.backward_warp(image, torch.zeros(1, 3, 4, 5))
    with pytest.raises(ValueError, match="share N, H and W"):
        ops.backward_warp(image, torch.zeros(1, 2, 4, 6))
    with pytest.raises(ValueError, match="share N, H and W"):
        ops.backward_warp(image, torch.zeros(2, 2, 4, 5))
    with pytest.raises(TypeError, match="same dtype"):
        ops.backward_warp(image, flow.double())
    with pytest.raises(TypeError, match="float32"):
        ops.backward_warp(image.long(), flow.long())
    with pytest.raises(ValueError, match="padding"):
        ops.backward_warp(image, flow, "reflect")
    with pytest.raises(TypeError, match="torch.Tensor"):
        ops.backward_warp(image.numpy(), flow)
    with pytest.raises(ValueError, match=">= 0"):
        ops.correlation(image, image, -1)
    with pytest.raises(TypeError, match="int"):
        ops.correlation(image, image, 2.5)
    with pytest.raises(ValueError, match="same shape"):
        ops.correlation(image, torch.zeros(1, 4, 4, 5))
    with pytest.raises(TypeError, match="same dtype"):
        ops.correlation(image, image.half())


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_float32_gradients_match_the_exact_backward(padding):
    """float32 runs through grid_sample + autograd; its gradients must agree with the reference backward."""
    image = torch.rand(2, 4, 9, 10, dtype=torch.float64)
    flow = random_flow(2, 9, 10, scale=4.0, seed=8)
    grad = torch.randn(2, 4, 9, 10, dtype=torch.float64)
    i, f = image.float().requires_grad_(), flow.float().requires_grad_()
    ops.backward_warp(i, f, padding).backward(grad.float())
    want_i, want_f = reference.warp_backward(grad, image.float().double(), flow.float().double(), padding)
    torch.testing.assert_close(i.grad.double(), want_i, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(f.grad.double(), want_f, atol=1e-4, rtol=1e-4)
