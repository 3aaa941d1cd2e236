"""The CUDA-extension and CuPy backends against the PyTorch reference (run only where a GPU is present)."""

from __future__ import annotations

import pytest
import torch

from vidinterp.ops import backends, reference

TOL = {torch.float32: 1e-4, torch.float16: 3e-3, torch.bfloat16: 3e-2}


def _module(name):
    ok, reason = backends.backend_status(name)
    if not ok:
        pytest.skip(f"{name} backend unavailable: {reason}")
    return backends._module(name)


def _check_backend(name, dtype, padding, layout):
    module = _module(name)
    gen = torch.Generator().manual_seed(7)
    image = torch.randn(2, 5, 33, 47, generator=gen, dtype=torch.float64)
    flow = torch.randn(2, 2, 33, 47, generator=gen, dtype=torch.float64) * 6 + 0.3
    flow[0, 0, 0, 0] = float("nan")
    flow[1, 1, 3, 3] = float("inf")
    flow[1, 0, 4, 4] = -1e30
    flow = flow.to(dtype).double()  # the values the low-precision inputs actually hold
    grad = torch.randn(2, 5, 33, 47, generator=gen, dtype=torch.float64)
    i = layout(image.to("cuda", dtype)).requires_grad_()
    f = layout(flow.to("cuda", dtype)).requires_grad_()
    out = module.backward_warp(i, f, padding)
    out.backward(grad.to("cuda", dtype))
    want = reference.warp_forward(image.to(dtype).double(), flow, padding)
    want_i, want_f = reference.warp_backward(grad.to(dtype).double(), image.to(dtype).double(), flow, padding)
    tol = TOL[dtype]
    torch.testing.assert_close(out.double().cpu(), want, atol=tol * 10, rtol=tol)
    torch.testing.assert_close(i.grad.double().cpu(), want_i, atol=tol * 20, rtol=tol * 10)
    torch.testing.assert_close(f.grad.double().cpu(), want_f, atol=tol * 50, rtol=tol * 10)

    f0 = torch.randn(2, 16, 21, 30, generator=gen, dtype=torch.float64).to(dtype).double()
    f1 = torch.randn(2, 16, 21, 30, generator=gen, dtype=torch.float64).to(dtype).double()
    a = layout(f0.to("cuda", dtype)).requires_grad_()
    b = layout(f1.to("cuda", dtype)).requires_grad_()
    corr = module.correlation(a, b, 4)
    g = torch.randn(corr.shape, generator=gen, dtype=torch.float64).to(dtype).double()
    corr.backward(g.to("cuda", dtype))
    torch.testing.assert_close(corr.double().cpu(), reference.correlation_forward(f0, f1, 4), atol=tol * 10, rtol=tol)
    want_a, want_b = reference.correlation_backward(g, f0, f1, 4)
    torch.testing.assert_close(a.grad.double().cpu(), want_a, atol=tol * 20, rtol=tol * 10)
    torch.testing.assert_close(b.grad.double().cpu(), want_b, atol=tol * 20, rtol=tol * 10)


LAYOUTS = {"contiguous": lambda t: t, "channels_last": lambda t: t.to(memory_format=torch.channels_last)}


@pytest.mark.cuda
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("dtype", list(TOL))
def test_cuda_extension_matches_reference(dtype, padding, layout):
    _check_backend("cuda", dtype, padding, LAYOUTS[layout])


@pytest.mark.cuda
@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("dtype", list(TOL))
def test_torch_backend_on_cuda_matches_reference(dtype, padding):
    # The fallback backend `auto` picks when neither kernel backend works: it must run on CUDA tensors too.
    _check_backend("torch", dtype, padding, LAYOUTS["contiguous"])


@pytest.mark.cupy
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("padding", ["border", "zeros"])
@pytest.mark.parametrize("dtype", list(TOL))
def test_cupy_matches_reference(dtype, padding, layout):
    _check_backend("cupy", dtype, padding, LAYOUTS[layout])


@pytest.mark.cuda
def test_cuda_opcheck_and_empty():
    _module("cuda").load_kernels()
    image = torch.randn(1, 3, 9, 10, device="cuda", requires_grad=True)
    flow = (torch.randn(1, 2, 9, 10, device="cuda") + 0.3).requires_grad_()
    torch.library.opcheck(torch.ops.vidinterp.backward_warp.default, (image, flow, 0))
    torch.library.opcheck(torch.ops.vidinterp.correlation.default, (image, image.detach() * 2, 2))
    empty = torch.zeros(0, 3, 9, 10, device="cuda")
    assert torch.ops.vidinterp.backward_warp(empty, torch.zeros(0, 2, 9, 10, device="cuda"), 1).shape == empty.shape


@pytest.mark.cuda
def test_auto_selects_the_fastest_backend_that_passes_its_self_test(monkeypatch):
    """Auto selection skips a backend whose results are wrong: one planted to fail its self-test is passed over
    for the next one in the order, and one that passes is kept."""
    device = torch.device("cuda")
    order = backends.available_backends()
    assert order and order[-1] == "torch"
    if len(order) < 2:
        pytest.skip("only the torch backend is available here: nothing to choose between")
    real = backends.self_test
    broken = order[0]

    def failing_first(name, dev):
        return "planted failure" if name == broken else real(name, dev)

    monkeypatch.setattr(backends, "self_test", failing_first)
    backends._chosen_per_device.clear()
    backends.set_backend(None)
    try:
        chosen = backends.backend_for(device)
        assert chosen != broken and chosen in order
        assert chosen == next(name for name in order if name != broken and real(name, device) is None)
    finally:
        backends._chosen_per_device.clear()
