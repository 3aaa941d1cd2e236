"""The torch.ops.vidinterp namespace (CPU = reference), schema parity with the C++ file, backend selection."""

from __future__ import annotations

import re

import pytest
import torch

from vidinterp import ops
from vidinterp.ops import backends, library, reference
from vidinterp.ops.sources import csrc_dir


@pytest.fixture(autouse=True)
def _registered():
    library.ensure_registered()
    yield
    backends.set_backend(None)


def _warp_args(dtype=torch.float64):
    image = torch.randn(2, 3, 5, 6, dtype=dtype, requires_grad=True)
    flow = (torch.randn(2, 2, 5, 6, dtype=dtype) * 2 + 0.3).requires_grad_()
    return image, flow


@pytest.mark.parametrize("padding", [0, 1])
def test_opcheck_warp(padding):
    image, flow = _warp_args()
    torch.library.opcheck(torch.ops.vidinterp.backward_warp.default, (image, flow, padding))
    grad = torch.randn(2, 3, 5, 6, dtype=torch.float64)
    for mask in ([True, True], [True, False], [False, True]):
        torch.library.opcheck(
            torch.ops.vidinterp.backward_warp_backward.default, (grad, image.detach(), flow.detach(), padding, mask)
        )


def test_opcheck_correlation():
    f0 = torch.randn(1, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    f1 = torch.randn(1, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(torch.ops.vidinterp.correlation.default, (f0, f1, 2))
    grad = torch.randn(1, 25, 5, 6, dtype=torch.float64)
    for mask in ([True, True], [True, False], [False, True]):
        torch.library.opcheck(torch.ops.vidinterp.correlation_backward.default,
                              (grad, f0.detach(), f1.detach(), 2, mask))


def test_op_gradcheck_and_values_match_reference():
    image, flow = _warp_args()
    assert torch.autograd.gradcheck(lambda i, f: library.backward_warp(i, f, "zeros"), (image, flow), fast_mode=True)
    torch.testing.assert_close(library.backward_warp(image, flow, "border"),
                               reference.warp_forward(image.detach(), flow.detach(), "border"))
    f0 = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    f1 = torch.randn(1, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: library.correlation(a, b, 1), (f0, f1), fast_mode=True)


def test_ops_compile_with_torch_compile():
    image, flow = _warp_args(torch.float32)
    compiled = torch.compile(lambda i, f: library.backward_warp(i, f, "border") * 2, backend="eager", fullgraph=True)
    torch.testing.assert_close(compiled(image, flow), 2 * library.backward_warp(image, flow, "border"))


def test_python_schemas_match_the_cpp_declarations():
    cpp = (csrc_dir() / "ops.cpp").read_text()
    # A schema may be split over adjacent C string literals: join them.
    declared = ["".join(re.findall(r'"([^"]*)"', call)) for call in re.findall(r"m\.def\((.*?)\);", cpp, re.DOTALL)]
    assert sorted(declared) == sorted(library.SCHEMAS.values())


def test_cpu_always_uses_torch_backend(monkeypatch):
    monkeypatch.setenv("VIDINTERP_BACKEND", "cuda")
    assert backends.backend_for(torch.device("cpu")) == "torch"
    image, flow = _warp_args(torch.float32)
    assert ops.backward_warp(image, flow).shape == image.shape


def test_forcing_backends():
    backends.set_backend("torch")
    assert backends.requested_backend() == "torch"
    with pytest.raises(ValueError, match="unknown backend"):
        backends.set_backend("opencl")
    if not torch.cuda.is_available():
        with pytest.raises(backends.BackendUnavailableError, match="cuda backend is not available"):
            backends.set_backend("cuda")
        with pytest.raises(backends.BackendUnavailableError, match="cupy backend is not available"):
            backends.set_backend("cupy")
    backends.set_backend("auto")
    assert backends.requested_backend() in ("auto", *backends.BACKEND_NAMES)


def test_bad_environment_backend(monkeypatch):
    monkeypatch.setenv("VIDINTERP_BACKEND", "fastest")
    with pytest.raises(backends.BackendUnavailableError, match="VIDINTERP_BACKEND"):
        backends.requested_backend()


def test_status_reports_reasons():
    ok, reason = backends.backend_status("torch")
    assert ok and "PyTorch" in reason
    for name in ("cuda", "cupy"):
        ok, reason = backends.backend_status(name)
        if not torch.cuda.is_available():
            # the reason names what is missing, so a user knows what to install or where to run
            assert not ok and re.search(r"CUDA|GPU|nvcc|CuPy|ninja|CPU-only", reason), reason
        else:
            assert re.search(r"kernels|nvcc|just in time|CuPy|not installed|not prebuilt|toolkit", reason), reason
    assert "torch" in ops.available_backends()


def test_self_test_accepts_the_reference_and_rejects_a_wrong_backend(monkeypatch):
    assert backends.self_test("torch", torch.device("cpu")) is None
    from vidinterp.ops import torch_backend

    monkeypatch.setattr(torch_backend, "correlation", lambda f0, f1, d: reference.correlation_forward(f0, f1, d) * 1.1)
    problem = backends.self_test("torch", torch.device("cpu"))
    assert problem is not None and "correlation" in problem


@pytest.mark.parametrize("mode", ["inference_mode", "no_grad", "autocast"])
def test_self_test_passes_inside_the_callers_inference_mode(mode):
    """The pipeline makes the backend choice on its first op call, inside torch.inference_mode(): the self-test
    must still run its backward there, or every compiled backend fails it and the process stays on PyTorch."""
    contexts = {"inference_mode": torch.inference_mode, "no_grad": torch.no_grad,
                "autocast": lambda: torch.autocast("cpu", dtype=torch.bfloat16)}
    with contexts[mode]():
        assert backends.self_test("torch", torch.device("cpu")) is None


def test_auto_choice_inside_inference_mode_keeps_a_backend_that_passes(monkeypatch):
    """The whole `auto` decision, as the pipeline makes it: a compiled backend that works is chosen, not warned off."""
    from vidinterp.ops import torch_backend

    monkeypatch.setattr(backends, "_chosen_per_device", {})
    monkeypatch.setattr(backends, "backend_status", lambda name: (True, "stub"))
    monkeypatch.setattr(backends, "_module", lambda name: torch_backend)  # "cuda" runs the PyTorch kernels here
    real_self_test = backends._self_test
    monkeypatch.setattr(backends, "_self_test", lambda name, device: real_self_test(name, torch.device("cpu")))
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    import warnings as _warnings

    with _warnings.catch_warnings():
        _warnings.simplefilter("error")
        with torch.inference_mode():
            assert backends._auto_for(torch.device("cuda", 0)) == "cuda"


_GOOD_IMAGE = torch.rand(2, 3, 5, 6)
_GOOD_FLOW = torch.zeros(2, 2, 5, 6)
_BAD_WARP_CALLS = {
    "flow with 3 channels": (_GOOD_IMAGE, torch.zeros(2, 3, 5, 6), 0),
    "flow of another height": (_GOOD_IMAGE, torch.zeros(2, 2, 4, 6), 0),
    "flow of another batch": (_GOOD_IMAGE, torch.zeros(1, 2, 5, 6), 0),
    "3-D image": (torch.rand(3, 5, 6), torch.zeros(2, 5, 6), 0),
    "integer image": (torch.zeros(2, 3, 5, 6, dtype=torch.int32), _GOOD_FLOW, 0),
    "mixed dtypes": (_GOOD_IMAGE.double(), _GOOD_FLOW, 0),
    "unknown padding code": (_GOOD_IMAGE, _GOOD_FLOW, 7),
}


@pytest.mark.parametrize("case", list(_BAD_WARP_CALLS))
def test_a_malformed_direct_warp_call_raises_a_python_error(case):
    image, flow, padding = _BAD_WARP_CALLS[case]
    with pytest.raises((TypeError, ValueError)):
        torch.ops.vidinterp.backward_warp(image, flow, padding)


def test_malformed_direct_backward_and_correlation_calls_raise():
    with pytest.raises(ValueError, match="grad_output"):
        torch.ops.vidinterp.backward_warp_backward(torch.rand(2, 3, 5, 5), _GOOD_IMAGE, _GOOD_FLOW, 0, [True, True])
    with pytest.raises(ValueError, match="same shape"):
        torch.ops.vidinterp.correlation(torch.rand(1, 4, 5, 6), torch.rand(1, 4, 5, 7), 2)
    with pytest.raises(ValueError, match=">= 0"):
        torch.ops.vidinterp.correlation(torch.rand(1, 4, 5, 6), torch.rand(1, 4, 5, 6), -1)
    f = torch.rand(1, 4, 5, 6)
    with pytest.raises(ValueError, match="grad_output"):
        torch.ops.vidinterp.correlation_backward(torch.rand(1, 9, 5, 6), f, f, 2, [True, True])
