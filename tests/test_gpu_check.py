"""benchmarks/gpu_check.py without a GPU: the dry run (plan and report), the early exit, budget and failures."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import torch
from benchmark_scripts import benchmark_path, load_benchmark

SCRIPT = benchmark_path("gpu_check")


@pytest.fixture(scope="module")
def gpu_check():
    return load_benchmark("gpu_check")


def test_dry_run_goes_through_the_whole_plan_and_writes_one_report(gpu_check, tmp_path):
    out = tmp_path / "report.json"
    assert gpu_check.main(["--dry-run", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    names = [s["step"] for s in report["steps"]]
    assert names == ["build", "gpu-tests", "opcheck", "inference-mode-choice", "large-inputs", "side-stream", "bench",
                     "upsample-1080p"]
    assert all(s["status"] == "dry-run" and s["would_run"] for s in report["steps"])
    assert report["status"] == "dry run" and report["environment"]["torch"] == torch.__version__
    assert not list(tmp_path.glob("*.partial"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour without a GPU")
def test_without_a_gpu_it_stops_in_seconds_with_one_clear_line(tmp_path):
    out = tmp_path / "report.json"
    start = time.monotonic()
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert time.monotonic() - start < 60  # import of torch included; no step runs
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gpu_check: cannot run here: ") and "CUDA" in lines[0]
    report = json.loads(out.read_text())
    assert report["status"] == "cannot run here" and report["missing"] and report["steps"] == []


def test_a_failing_or_crashing_step_fails_the_check_and_the_rest_still_run(gpu_check):
    def crash(state):
        raise RuntimeError("boom")

    steps = [("a", "ok", lambda s: {"ok": True, "figure": 1}), ("b", "crash", crash),
             ("c", "no", lambda s: {"ok": False})]
    results = gpu_check.run_plan(steps, budget_s=60, dry_run=False)
    assert [r["status"] for r in results] == ["ok", "failed", "failed"]
    assert results[0]["figure"] == 1 and "boom" in results[1]["error"]


def test_steps_past_the_time_budget_are_reported_not_run(gpu_check):
    def slow(state):
        time.sleep(0.2)
        return {"ok": True}

    results = gpu_check.run_plan([("a", "", slow), ("b", "", slow)], budget_s=0.1, dry_run=False)
    assert [r["status"] for r in results] == ["ok", "not run"] and "budget" in results[1]["why"]
