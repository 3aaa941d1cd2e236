"""Which implementation runs an op: PyTorch (always available), the compiled CUDA extension, or CuPy/NVRTC.

The decision is made once per device and process, on first use, and cached: an op call costs one dictionary
lookup, with no environment read, lock or availability probe. It is logged at debug level. `auto` (the
default) picks, per CUDA device, the fastest backend that is available and passes a self-test against the
PyTorch reference on a small random input. `VIDINTERP_BACKEND=cuda|cupy|torch` (read when the first decision
is made) or `set_backend(...)` (which clears the cached decisions) forces one; forcing an unavailable backend
raises a clear error. CPU tensors always use the PyTorch backend.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
import warnings
from types import ModuleType

import torch

from vidinterp.errors import UsageError
from vidinterp.execution.settings import OP_BACKENDS, environment_backend

BACKEND_NAMES = OP_BACKENDS
# Fastest first: the order `auto` tries them in.
_AUTO_ORDER = ("cuda", "cupy", "torch")
_MODULES = {"cuda": "vidinterp.ops.cuda_backend", "cupy": "vidinterp.ops.cupy_backend",
            "torch": "vidinterp.ops.torch_backend"}

log = logging.getLogger(__name__)
_lock = threading.Lock()
_forced: str | None = None
_chosen_per_device: dict[int, str] = {}  # what `auto` picked per CUDA device (self-tests run once)
#: The cached decision per (device type, index): backend name and its module.
_decisions: dict[tuple[str, int | None], tuple[str, ModuleType]] = {}


class BackendUnavailableError(RuntimeError):
    """A backend was asked for by name but cannot run here; the message says why."""


def _module(name: str) -> ModuleType:
    return importlib.import_module(_MODULES[name])


def backend_status(name: str) -> tuple[bool, str]:
    """(available, reason) for one backend, without running any kernel."""
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKEND_NAMES)}")
    try:
        return _module(name).availability()
    except Exception as exc:  # noqa: BLE001 - an import-time failure is exactly the "why not" to report
        return False, f"{type(exc).__name__}: {exc}"


def available_backends() -> list[str]:
    """Names of the backends that can run on this machine, fastest first."""
    return [name for name in _AUTO_ORDER if backend_status(name)[0]]


def set_backend(name: str | None) -> None:
    """Force a backend for CUDA tensors ("cuda", "cupy", "torch"), or None/"auto" to choose automatically."""
    global _forced
    if name in (None, "auto"):
        _forced = None
        _decisions.clear()
        return
    if name not in BACKEND_NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of auto, {', '.join(BACKEND_NAMES)}")
    ok, reason = backend_status(name)
    if not ok:
        raise BackendUnavailableError(f"the {name} backend is not available: {reason}")
    _forced = name
    _decisions.clear()


def requested_backend() -> str:
    """The backend asked for by set_backend() or VIDINTERP_BACKEND ("auto" when neither)."""
    if _forced is not None:
        return _forced
    try:
        return environment_backend()
    except UsageError as exc:
        raise BackendUnavailableError(str(exc)) from None


def self_test(name: str, device: torch.device) -> str | None:
    """Run both ops (forward and backward) on a small random input; None if they match the reference, else why.

    The choice is made on the first op call, which in production is inside `torch.inference_mode()` (and may be
    under `no_grad` or autocast): the test builds its own fresh tensors with grad mode on, inference mode and
    autocast off, so it checks the kernels rather than the caller's mode.
    """
    with torch.inference_mode(False), torch.enable_grad(), torch.autocast(device.type, enabled=False):
        return _self_test(name, device)


def _self_test(name: str, device: torch.device) -> str | None:
    from vidinterp.ops import reference

    module = _module(name)
    gen = torch.Generator().manual_seed(1234)
    try:
        for dtype, tol in ((torch.float32, 1e-4), (torch.float16, 2e-2)):
            image = torch.randn(2, 5, 13, 19, generator=gen).to(device, dtype)
            flow = (torch.randn(2, 2, 13, 19, generator=gen) * 4 + 0.3).to(device, dtype)
            grad = torch.randn(2, 5, 13, 19, generator=gen).to(device, dtype)
            for padding in ("border", "zeros"):
                i, f = image.clone().requires_grad_(), flow.clone().requires_grad_()
                out = module.backward_warp(i, f, padding)
                out.backward(grad)
                want = reference.warp_forward(image.double(), flow.double(), padding)
                want_i, want_f = reference.warp_backward(grad.double(), image.double(), flow.double(), padding)
                for got, exp in ((out, want), (i.grad, want_i), (f.grad, want_f)):
                    if not torch.allclose(got.double(), exp, atol=tol * 10, rtol=tol):
                        error = (got.double() - exp).abs().max()
                        return f"warp ({padding}, {dtype}) differs from the reference by {error:.3g}"
            f0 = torch.randn(2, 7, 11, 9, generator=gen).to(device, dtype)
            f1 = torch.randn(2, 7, 11, 9, generator=gen).to(device, dtype)
            a, b = f0.clone().requires_grad_(), f1.clone().requires_grad_()
            out = module.correlation(a, b, 3)
            g = torch.randn(out.shape, generator=gen).to(device, dtype)
            out.backward(g)
            want = reference.correlation_forward(f0.double(), f1.double(), 3)
            want_a, want_b = reference.correlation_backward(g.double(), f0.double(), f1.double(), 3)
            for got, exp in ((out, want), (a.grad, want_a), (b.grad, want_b)):
                if not torch.allclose(got.double(), exp, atol=tol * 10, rtol=tol):
                    return f"correlation ({dtype}) differs from the reference by {(got.double() - exp).abs().max():.3g}"
    except Exception as exc:  # noqa: BLE001 - any failure means "do not use this backend"
        return f"{type(exc).__name__}: {exc}"
    return None


def _auto_for(device: torch.device) -> str:
    index = device.index if device.index is not None else torch.cuda.current_device()
    with _lock:
        chosen = _chosen_per_device.get(index)
        if chosen is not None:
            return chosen
        chosen = "torch"
        for name in _AUTO_ORDER[:-1]:
            ok, reason = backend_status(name)
            if not ok:
                continue
            problem = self_test(name, torch.device("cuda", index))
            if problem is None:
                chosen = name
                break
            warnings.warn(f"vidinterp: the {name} backend failed its self-test and is not used: {problem}",
                          stacklevel=2)
        _chosen_per_device[index] = chosen
        return chosen


def backend_for(device: torch.device) -> str:
    """The backend that will run ops on `device` (CPU → always "torch")."""
    if device.type != "cuda":
        return "torch"
    requested = requested_backend()
    if requested == "auto":
        return _auto_for(device)
    ok, reason = backend_status(requested)
    if not ok:
        raise BackendUnavailableError(f"the {requested} backend is not available: {reason}")
    return requested


def implementation_for(device: torch.device) -> ModuleType:
    """The backend module (with `backward_warp` and `correlation`) for tensors on `device`, decided once."""
    decided = _decisions.get((device.type, device.index))
    if decided is None:
        # Self-tests and imports cannot be traced: a compiled caller breaks its graph here once. Only when dynamo
        # is loaded at all (so it is not imported, for seconds, just to decorate this).
        decide = torch.compiler.disable(_decide) if "torch._dynamo" in sys.modules else _decide
        decided = decide(device)
    return decided[1]


def _decide(device: torch.device) -> tuple[str, ModuleType]:
    name = backend_for(device)
    decided = (name, _module(name))
    _decisions[(device.type, device.index)] = decided
    log.debug("vidinterp ops on %s: the %s backend (%s)", device, name, backend_status(name)[1])
    return decided
