"""`vidinterp bench` asked for backends that cannot run here: none of them is one line and a non-zero exit
(an empty table with exit status 0 read as a success); some of them is a warning naming those left out."""

from __future__ import annotations

import json

import pytest
import torch
from _cli_api import assert_fails

pytestmark = pytest.mark.faults

#: the smallest sweep: one op, one small shape, one run
SMALL = ("--ops", "warp", "--resolutions", "720p", "--scales", "16", "--channels", "3", "--dtypes", "fp32",
         "--repeats", "1", "--no-backward", "--device", "cpu")


# ids without "cuda"/"cupy": the suite skips tests with those keywords on machines without a GPU
@pytest.mark.parametrize("backends", ["cuda", "cupy", "cuda,cupy"], ids=["own kernels", "CuPy kernels", "both"])
def test_no_backend_that_runs_on_the_cpu_is_one_line(run_cli, backends):
    message = assert_fails(run_cli, 1, "bench", *SMALL, "--backends", backends,
                           says=(f"none of --backends {backends} can run on cpu", "nothing was timed"))
    assert "CUDA" in message  # why: no GPU here, or the kernels run on CUDA tensors only


def test_backends_on_a_machine_without_a_gpu_say_why(run_cli):
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    assert_fails(run_cli, 1, "bench", "--quick", "--backends", "cuda", says=("no CUDA GPU",))


def test_some_backends_left_out_are_named_and_the_rest_timed(run_cli):
    status, out, err = run_cli("bench", *SMALL, "--backends", "cupy,torch", "--json")
    assert status == 0, err
    assert "warning: --backends: cupy left out" in err and "Traceback" not in err
    rows = json.loads(out)["ops"]["rows"]
    assert rows and {row["backend"] for row in rows} <= {"torch", "grid_sample"}


@pytest.mark.parametrize(
    "args, says",
    [(("--backends", "triton"), "unknown value(s) triton"), (("--backends", ","), "at least one value"),
     (("--scales", "0"), "positive"), (("--channels", "x"), "whole numbers")],
    ids=["unknown backend", "no backend", "scale 0", "channels not numbers"],
)
def test_bad_bench_lists_are_usage_errors(run_cli, args, says):
    assert_fails(run_cli, 2, "bench", *SMALL, *args, says=(says,))
