"""benchmarks/ops.py, the operator benchmark as a script, runs on tiny sizes: it prints the tables and writes the
same JSON as `vidinterp bench --json` (it broke once when the CLI's private helpers it imported changed)."""

from __future__ import annotations

import json
import sys

import pytest
from benchmark_scripts import benchmark_path, load_benchmark

SCRIPT = benchmark_path("ops")
#: the smallest sweep: one op, one small shape, one run of each timing
TINY = [
    "--ops",
    "warp,correlation",
    "--resolutions",
    "720p",
    "--scales",
    "16",
    "--channels",
    "3",
    "--dtypes",
    "fp32",
    "--repeats",
    "1",
    "--max-displacement",
    "1",
    "--device",
    "cpu",
]


@pytest.fixture(scope="module")
def script():
    return load_benchmark("ops")


def test_tiny_sweep_prints_tables_and_writes_the_json(script, tmp_path, capsys):
    out = tmp_path / "ops.json"
    assert script.main([*TINY, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "operators on cpu" in captured.out and f"wrote {out}" in captured.err
    result = json.loads(out.read_text())
    assert result["hardware"]["cpu_cores"] >= 1 and result["versions"]["torch"]
    rows = result["ops"]["rows"]
    assert {(row["op"], row["backend"]) for row in rows} == {
        ("warp", "torch"),
        ("warp", "grid_sample"),
        ("correlation", "torch"),
    }
    assert all(row["forward_ms"] > 0 and row["forward_backward_ms"] > 0 for row in rows)
    assert result["ops"]["max_displacement"] == 1
    assert [path.name for path in tmp_path.iterdir()] == ["ops.json"]  # no temporary file left beside it


def test_forward_only_and_one_backend(script, tmp_path, capsys):
    out = tmp_path / "ops.json"
    assert script.main([*TINY, "--ops", "warp", "--backends", "torch", "--no-backward", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["ops"]["rows"]
    assert rows and all(row["forward_backward_ms"] is None for row in rows)
    assert {row["backend"] for row in rows} == {"torch", "grid_sample"}  # grid_sample comes with torch


@pytest.mark.parametrize(
    "args, says",
    [(["--ops", "blur"], "--ops: unknown value(s) blur"), (["--scales", "0"], "--scales values must be positive")],
)
def test_a_bad_option_is_one_line_and_no_file(script, tmp_path, capsys, args, says):
    out = tmp_path / "ops.json"
    assert script.main([*TINY, *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ops.py: error: ") and err.count("\n") == 1 and says in err
    assert not out.exists()


def test_the_script_runs_as_a_program(tmp_path):
    """As a user runs it (its own interpreter, from another folder): the imports resolve from the checkout."""
    import subprocess

    out = tmp_path / "ops.json"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            *TINY,
            "--ops",
            "warp",
            "--backends",
            "torch",
            "--no-backward",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["ops"]["rows"]
