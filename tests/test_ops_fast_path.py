"""The production op path: cached dispatch, torch.ops on the CPU, output masks, autocast, half precision, compile."""

from __future__ import annotations

import pytest
import torch

from vidinterp import ops
from vidinterp.ops import backends, library, reference, vectorized


@pytest.fixture(autouse=True)
def _fresh_decisions():
    backends.set_backend(None)
    yield
    backends.set_backend(None)


def _flow(n, h, w, scale=3.0, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 2, h, w, generator=g, dtype=torch.float64) * scale + 0.37).to(dtype)


def test_the_decision_is_made_once_and_cleared_by_set_backend(monkeypatch):
    device = torch.device("meta")  # any non-CPU device goes through the cached decision; meta needs no GPU
    first = backends.implementation_for(device)
    assert first.NAME == "torch"

    def probe(name):
        raise AssertionError("an op call must not probe backends again")

    monkeypatch.setattr(backends, "backend_status", probe)
    monkeypatch.setattr(backends, "requested_backend", probe)
    assert backends.implementation_for(device) is first
    ops.backward_warp(torch.rand(1, 1, 3, 4), torch.zeros(1, 2, 3, 4))  # the CPU never asks
    monkeypatch.undo()
    backends.set_backend("torch")
    assert backends._decisions == {}


def test_the_decision_is_logged_at_debug_level(caplog):
    with caplog.at_level("DEBUG", logger="vidinterp.ops.backends"):
        backends.implementation_for(torch.device("meta"))
        backends.implementation_for(torch.device("meta"))
    decisions = [r for r in caplog.records if "backend" in r.getMessage()]
    assert len(decisions) == 1 and decisions[0].levelname == "DEBUG" and "torch" in decisions[0].getMessage()


def test_cpu_ops_run_through_torch_ops(monkeypatch):
    """What users run on the CPU is the registered op (so opcheck and torch.compile test the real path)."""
    calls = []
    real = torch.ops.vidinterp.backward_warp

    class Spy:
        def __call__(self, *args):
            calls.append(args)
            return real(*args)

    monkeypatch.setattr(torch.ops.vidinterp, "backward_warp", Spy())
    ops.backward_warp(torch.rand(1, 3, 4, 5), torch.zeros(1, 2, 4, 5))
    assert len(calls) == 1


@pytest.mark.parametrize("wanted", [(True, False), (False, True)])
def test_backward_computes_only_the_gradients_asked_for(monkeypatch, wanted):
    masks = {"warp": [], "correlation": []}
    warp_backward, correlation_backward = vectorized.warp_backward, vectorized.correlation_backward

    def spy_warp(grad, image, flow, padding, mask):
        masks["warp"].append(mask)
        return warp_backward(grad, image, flow, padding, mask)

    def spy_correlation(grad, f0, f1, d, mask):
        masks["correlation"].append(mask)
        return correlation_backward(grad, f0, f1, d, mask)

    monkeypatch.setattr(vectorized, "warp_backward", spy_warp)
    monkeypatch.setattr(vectorized, "correlation_backward", spy_correlation)
    image = torch.rand(1, 3, 6, 7, dtype=torch.float64, requires_grad=wanted[0])
    flow = _flow(1, 6, 7).requires_grad_(wanted[1])
    ops.backward_warp(image, flow, "zeros").sum().backward()
    assert masks["warp"] == [wanted]
    assert (image.grad is not None, flow.grad is not None) == wanted
    want_image, want_flow = reference.warp_backward(torch.ones_like(image), image.detach(), flow.detach(), "zeros")
    torch.testing.assert_close(image.grad if wanted[0] else flow.grad, want_image if wanted[0] else want_flow)

    f0 = torch.rand(1, 4, 5, 6, dtype=torch.float64, requires_grad=wanted[0])
    f1 = torch.rand(1, 4, 5, 6, dtype=torch.float64, requires_grad=wanted[1])
    ops.correlation(f0, f1, 2).sum().backward()
    assert masks["correlation"] == [wanted]
    want0, want1 = reference.correlation_backward(torch.ones(1, 25, 5, 6, dtype=torch.float64), f0.detach(),
                                                  f1.detach(), 2)
    torch.testing.assert_close(f0.grad if wanted[0] else f1.grad, want0 if wanted[0] else want1)


def test_backward_ops_return_empty_tensors_for_masked_gradients():
    image, flow = torch.rand(1, 2, 4, 5), _flow(1, 4, 5, dtype=torch.float32)
    grad_image, grad_flow = torch.ops.vidinterp.backward_warp_backward(torch.ones(1, 2, 4, 5), image, flow, 0,
                                                                       [True, False])
    assert grad_image.shape == image.shape and grad_flow.numel() == 0
    g0, g1 = torch.ops.vidinterp.correlation_backward(torch.ones(1, 9, 4, 5), image, image, 1, [False, True])
    assert g0.numel() == 0 and g1.shape == image.shape


@pytest.mark.parametrize("d", [2, 9])
def test_vectorised_correlation_matches_the_reference_past_the_tile_width(d):
    """d = 9 makes 2d wider than the default tile: tiles widen so their backward tails cannot overlap."""
    f0 = torch.randn(2, 5, 11, 37, dtype=torch.float64)
    f1 = torch.randn(2, 5, 11, 37, dtype=torch.float64)
    torch.testing.assert_close(vectorized.correlation_forward(f0, f1, d), reference.correlation_forward(f0, f1, d))
    grad = torch.randn(2, (2 * d + 1) ** 2, 11, 37, dtype=torch.float64)
    got = vectorized.correlation_backward(grad, f0, f1, d, (True, True))
    for g, w in zip(got, reference.correlation_backward(grad, f0, f1, d)):
        torch.testing.assert_close(g, w)


# Relative error of one rounding to the storage type, with headroom for summation order and the grid round trip.
HALF_TOL = {torch.float16: 4e-3, torch.bfloat16: 3e-2}


@pytest.mark.parametrize("dtype", list(HALF_TOL))
@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_half_precision_cpu_warp_at_720p_matches_the_reference(dtype, padding):
    """Issue 10: a half-precision grid crashed CPU grid_sample at 720p; coordinates now stay in float32."""
    image = torch.rand(1, 3, 720, 1280, generator=torch.Generator().manual_seed(1))
    flow = _flow(1, 720, 1280, scale=6.0, seed=2, dtype=torch.float32)
    half_image, half_flow = image.to(dtype), flow.to(dtype)
    want = reference.warp_forward(half_image.float(), half_flow.float(), padding)
    out = ops.backward_warp(half_image, half_flow, padding)
    assert out.dtype == dtype and out.shape == image.shape
    tol = HALF_TOL[dtype]
    torch.testing.assert_close(out.float(), want, atol=tol * float(want.abs().max()), rtol=tol)
    i, f = half_image.clone().requires_grad_(), half_flow.clone().requires_grad_()
    ops.backward_warp(i, f, padding).float().sum().backward()
    assert i.grad.dtype == dtype and f.grad.dtype == dtype and torch.isfinite(f.grad.float()).all()


@pytest.mark.parametrize("dtype", list(HALF_TOL))
def test_bench_grid_sample_baseline_takes_half_precision_on_the_cpu(dtype):
    from vidinterp.bench.ops import grid_sample_warp

    image = torch.rand(1, 3, 720, 1280).to(dtype)
    flow = _flow(1, 720, 1280, dtype=torch.float32).to(dtype)
    out = grid_sample_warp(image, flow)
    want = reference.warp_forward(image.float(), flow.float(), "border")
    tol = HALF_TOL[dtype]
    assert out.dtype == dtype
    torch.testing.assert_close(out.float(), want, atol=tol * float(want.abs().max()), rtol=tol)


def test_ops_under_autocast_run_in_float32():
    image = torch.rand(1, 3, 8, 9).bfloat16()
    flow = _flow(1, 8, 9, dtype=torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ops.backward_warp(image, flow)
        cost = ops.correlation(image, image.float(), 1)
    assert out.dtype == torch.float32 and cost.dtype == torch.float32
    torch.testing.assert_close(out, reference.warp_forward(image.float(), flow, "border"), atol=1e-5, rtol=1e-5)


def test_compiled_graph_calls_the_production_ops():
    image = torch.rand(1, 3, 6, 7)
    flow = _flow(1, 6, 7, dtype=torch.float32)

    def step(i, f):
        return ops.correlation(ops.backward_warp(i, f, "zeros"), i, 1)

    compiled = torch.compile(step, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(image, flow), step(image, flow))
    library.ensure_registered()
