"""The suite's own machinery in conftest.py: the check for leaked signal handlers, --device/--dtype and cpu_only,
run_cli's two modes. Inner test runs use this conftest.py as it is."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.fixture
def inner(pytester):
    """A scratch suite with the real conftest.py and markers."""
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makeini("[pytest]\nmarkers =\n    cpu_only(reason): CPU only\n    cuda: GPU\n")
    return pytester


def test_a_test_that_leaves_a_signal_handler_changed_fails(inner):
    inner.makepyfile("""
        import signal

        def test_leaks():
            signal.signal(signal.SIGHUP, lambda *a: None)

        def test_after():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL
    """)
    before = signal.getsignal(signal.SIGHUP)
    result = inner.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*left the SIGHUP handler(s) changed*"])
    assert signal.getsignal(signal.SIGHUP) is before


def test_device_and_dtype_come_from_the_command_line_and_cpu_only_says_so(inner):
    inner.makepyfile("""
        import pytest
        import torch

        def test_any(device, dtype):
            assert isinstance(device, torch.device) and isinstance(dtype, torch.dtype)

        @pytest.mark.cpu_only("an OpenCV path")
        def test_opencv(device):
            assert device.type == "cpu"

        @pytest.mark.cpu_only("an OpenCV path")
        def test_opencv_without_a_device():
            pass

        @pytest.mark.parametrize("dtype", [torch.float64])
        def test_own_dtype(dtype):
            assert dtype == torch.float64
    """)
    default = inner.runpytest_inprocess("-p", "no:cacheprovider", "-v")
    default.assert_outcomes(passed=4)
    default.stdout.fnmatch_lines(["*test_any?cpu-float32? PASSED*"])

    both = inner.runpytest_inprocess("-p", "no:cacheprovider", "-rs", "--device", "cpu,cuda",
                                     "--dtype", "float32,bfloat16")
    # test_any on cpu (and cuda where there is one) × 2 dtypes; test_opencv on cpu only; the other two once
    cuda = 2 if torch_has_cuda() else 0
    both.assert_outcomes(passed=2 + cuda + 1 + 2, skipped=1 + (2 - cuda))
    both.stdout.fnmatch_lines(["*CPU only by nature: an OpenCV path*"])

    gpu_only = inner.runpytest_inprocess("-p", "no:cacheprovider", "-rs", "--device", "cuda")
    gpu_only.stdout.fnmatch_lines(["*CPU only by nature: an OpenCV path*"])
    assert gpu_only.parseoutcomes().get("skipped", 0) >= 2  # both OpenCV tests, with or without a device

    wrong = inner.runpytest_inprocess("-p", "no:cacheprovider", "--device", "tpu")
    assert wrong.ret != 0
    wrong.stderr.fnmatch_lines(["*--device tpu: choose from cpu, cuda*"])


def torch_has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def test_run_cli_in_this_process_and_as_a_process(run_cli):
    code, out, err = run_cli("--version")
    assert code == 0 and out.startswith("vidinterp ") and err == ""
    with pytest.raises(TypeError, match="process=True"):
        run_cli("--version", stdin=b"")
    result = run_cli("--version", process=True)
    assert result.rc == 0 and result.stdout.decode().strip() == out.strip()
