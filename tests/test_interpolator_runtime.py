"""The model runtime: precision, channels_last and torch.compile are detected once, overridable, and fall back."""

from __future__ import annotations

import pytest
import torch
from tensor_frames import interpolate

from vidinterp.errors import UsageError
from vidinterp.execution.settings import build_settings, default_batch_size
from vidinterp.interpolators import runtime
from vidinterp.interpolators.model import ModelInterpolator
from vidinterp.interpolators.runtime import Runtime, resolve_settings
from vidinterp.models import VFIModel, tiny_config

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in ("VIDINTERP_PRECISION", "VIDINTERP_CHANNELS_LAST", "VIDINTERP_COMPILE"):
        monkeypatch.delenv(name, raising=False)


def _tiny_model():
    # The default kind of model, with the DIS prior: its flow depends only on the frames (see DisFlow).
    torch.manual_seed(0)
    return VFIModel.from_config(tiny_config())


def _pair():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 3, 24, 40, generator=g), torch.rand(2, 3, 24, 40, generator=g)


def resolve_precision(device, precision=None, fp16=False):
    """The precision the model runs in (the device is not resolved: "cuda" works without a GPU here)."""
    return runtime._precision(device, build_settings(precision=precision, fp16=fp16).precision, "model")


def test_precision_defaults_and_overrides(monkeypatch):
    for hardware, auto in (("amx", "bf16"), ("avx512_bf16", "fp32"), (None, "fp32")):
        monkeypatch.setattr(runtime, "cpu_bf16_hardware", lambda hardware=hardware: hardware)
        assert resolve_precision(CPU) == auto
    for asked in ({"fp16": True}, {"precision": "fp16"}):  # two spellings of one switch: CUDA only
        with pytest.raises(UsageError, match="fp16 runs only on CUDA"):
            resolve_precision(CPU, **asked)
    assert resolve_precision(CPU, "fp32") == "fp32"
    assert resolve_precision(torch.device("cuda"), fp16=True) == "fp16"
    assert resolve_precision(torch.device("cuda"), "fp16") == "fp16"
    with pytest.raises(UsageError, match="unknown precision"):
        resolve_precision(CPU, "int8")
    monkeypatch.setenv("VIDINTERP_PRECISION", "fp32")
    assert resolve_precision(CPU) == "fp32"
    with pytest.raises(UsageError, match="AMX or AVX512-BF16"):
        resolve_precision(CPU, "bf16")  # never a slower path on a CPU without bf16 hardware
    monkeypatch.setattr(runtime, "cpu_bf16_hardware", lambda: "avx512_bf16")
    monkeypatch.setenv("VIDINTERP_PRECISION", "bf16")
    assert resolve_precision(CPU) == "bf16"


def test_layout_and_compile_switches(monkeypatch, caplog):
    with caplog.at_level("DEBUG", logger="vidinterp.interpolators.runtime"):
        decided = Runtime.decide(CPU, "fp32")
    assert not decided.channels_last and not decided.compile and decided.precision == "fp32"
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("settings")]
    assert len(logged) == 1 and "device=cpu" in logged[0] and "precision=fp32" in logged[0]
    monkeypatch.setattr(runtime, "cpu_bf16_hardware", lambda: "amx")
    assert Runtime.decide(CPU, "bf16").channels_last  # bf16 on the CPU goes NHWC
    monkeypatch.setenv("VIDINTERP_CHANNELS_LAST", "0")
    assert not Runtime.decide(CPU, "bf16").channels_last
    monkeypatch.setenv("VIDINTERP_CHANNELS_LAST", "1")
    assert Runtime.decide(CPU, "fp32").channels_last
    monkeypatch.setenv("VIDINTERP_CHANNELS_LAST", "maybe")
    with pytest.raises(UsageError, match="VIDINTERP_CHANNELS_LAST"):
        Runtime.decide(CPU)
    monkeypatch.delenv("VIDINTERP_CHANNELS_LAST")
    monkeypatch.setenv("VIDINTERP_COMPILE", "1")
    monkeypatch.setattr(runtime, "cpp_compiler", lambda: None)
    assert not Runtime.decide(CPU).compile  # no C++ compiler: inductor cannot run, eager it is
    monkeypatch.setattr(runtime, "cpp_compiler", lambda: "/usr/bin/g++")
    assert Runtime.decide(CPU).compile


def test_a_failing_compile_falls_back_to_eager(monkeypatch):
    def broken_compile(function, **kwargs):
        def call(*args):
            raise RuntimeError("no compiler for you")

        return call

    monkeypatch.setattr(torch, "compile", broken_compile)
    compiled = Runtime(CPU, "fp32", False, True).compiled(lambda x: x + 1)
    assert compiled(1) == 2 and compiled(2) == 3
    assert Runtime(CPU, "fp32", False, False).compiled(abs) is abs


def test_channels_last_gives_the_same_frames():
    f0, f1 = _pair()
    t = torch.tensor([0.25, 0.5])
    frames = {}
    for layout in (False, True):
        interpolator = ModelInterpolator(device=CPU, model=_tiny_model())
        interpolator.runtime = Runtime(CPU, "fp32", layout, False)
        interpolator.model = interpolator.runtime.prepare(interpolator.model)
        frames[layout] = interpolate(interpolator, f0, f1, t)
    torch.testing.assert_close(frames[True], frames[False], atol=1e-5, rtol=1e-5)


@pytest.mark.skipif(not runtime.cpu_has_fast_bf16(), reason="needs a CPU with AMX or AVX512-BF16")
def test_bf16_stays_close_to_fp32():
    f0, f1 = _pair()
    fp32 = interpolate(ModelInterpolator(device=CPU, model=_tiny_model(), precision="fp32"), f0, f1, 0.5)
    bf16 = interpolate(ModelInterpolator(device=CPU, model=_tiny_model(), precision="bf16"), f0, f1, 0.5)
    assert bf16.dtype == torch.float32
    # bf16 keeps 8 bits of mantissa: frames in [0, 1] agree to a few hundredths.
    assert (bf16 - fp32).abs().mean() < 0.02


def test_batch_size_defaults_per_device():
    assert default_batch_size("cpu") == 1
    assert default_batch_size("cuda") == 8
    assert resolve_settings(build_settings(method="blend", device="cpu")).batch_size == 1
    assert resolve_settings(build_settings(method="blend", device="cpu", batch_size=3)).batch_size == 3


def test_running_the_model_imports_no_compiler_stack(tmp_path):
    """torch._dynamo costs about a second to import (five on a busy machine): an eager run must not load it."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, torch\n"
        "from vidinterp.interpolators.model import ModelInterpolator\n"
        "from vidinterp.models import VFIModel, tiny_config\n"
        "m = ModelInterpolator(device='cpu', model=VFIModel.from_config(tiny_config()))\n"
        "m.interpolate([np.zeros((16, 24, 3), np.uint8)], [np.ones((16, 24, 3), np.uint8)], 0.5)\n"
        "heavy = [name for name in ('torch._dynamo', 'torch._inductor') if name in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tmp_path)
