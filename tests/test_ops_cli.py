"""`vidinterp bench` and `vidinterp doctor` end to end through the CLI entry point (tiny sizes)."""

from __future__ import annotations

import json

import pytest
import torch

from vidinterp.cli import main


def test_bench_json_rows_and_ratios(capsys):
    main(["bench", "--ops", "warp,correlation", "--resolutions", "720p", "--scales", "16", "--channels", "3",
          "--dtypes", "fp32", "--repeats", "1", "--max-displacement", "2", "--json"])
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["hardware"]["cpu_cores"] >= 1 and result["versions"]["torch"]
    rows = result["ops"]["rows"]
    backends = {(r["op"], r["backend"]) for r in rows}
    assert backends == {("warp", "torch"), ("warp", "grid_sample"), ("correlation", "torch")}
    for row in rows:
        assert (row["width"], row["height"], row["channels"]) == (80, 45, 3)
        assert row["forward_ms"] > 0 and row["forward_backward_ms"] > 0
        assert 0 < row["forward_copy_share"] and row["forward_gbps"] > 0
    corr = next(r for r in rows if r["op"] == "correlation")
    assert corr["max_displacement"] == 2 and corr["forward_tflops"] > 0
    warp = next(r for r in rows if r["backend"] == "torch" and r["op"] == "warp")
    assert warp["baseline"] == "grid_sample" and warp["speedup_vs_baseline"] > 0
    assert "operators on cpu" in captured.err  # with --json the table goes to stderr


def test_bench_report_is_on_stdout_without_json(capsys):
    main(["bench", "--ops", "warp", "--resolutions", "720p", "--scales", "16", "--channels", "3",
          "--dtypes", "fp32", "--repeats", "1", "--backends", "torch"])
    captured = capsys.readouterr()
    assert "operators on cpu" in captured.out and "operators on cpu" not in captured.err


def test_bench_end_to_end_only(capsys):
    main(["bench", "--skip-ops", "--end-to-end", "--quick", "--repeats", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    (case,) = result["throughput"]  # the throughput benchmark's cases, as benchmarks/throughput.py prints them
    assert (case["width"], case["height"]) == (1280, 720)
    for row in case["rows"]:
        assert row["seconds"] > 0 and row["peak_rss_mb"] > 0
        if row["contender"].startswith("vidinterp"):  # n frames ×2 → 2n (minterpolate does not hold the last)
            assert row["output_frames"] == 2 * case["frames"]
    rows = result["end_to_end"]
    blend = [r for r in rows if r["method"] == "blend"]
    assert {(r["width"], r["height"]) for r in blend} == {(640, 480), (1280, 720)}
    assert all(r["ms"] > 0 for r in blend)
    assert any(r["method"] == "model" for r in rows)  # timed, or skipped with a note


@pytest.mark.parametrize(
    "args, message",
    [
        (["--ops", "blur"], "unknown value"),
        (["--scales", "0"], "positive"),
        (["--backend", "cuda"], "not available"),
    ],
)
def test_bench_bad_options(args, message, capsys):
    import torch

    if "cuda" in args and torch.cuda.is_available():
        pytest.skip("a GPU is present, so forcing cuda is valid")
    with pytest.raises(SystemExit) as exc:
        main(["bench", *args, "--repeats", "1"])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_doctor_json(capsys):
    main(["doctor", "--json"])
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["backends"]["torch"]["available"] is True
    assert set(report["backends"]) == {"cuda", "cupy", "torch"}
    assert "prebuilt" in report["extension"] and "jit_possible" in report["extension"]
    assert report["selected_backend"]["backend"] in {"cuda", "cupy", "torch"}
    assert "doctor" in captured.err


def test_the_warp_is_timed_with_real_video_flow_and_random_flow(capsys):
    from vidinterp.bench import ops as bench_ops

    main(["bench", "--ops", "warp", "--resolutions", "720p", "--scales", "16", "--channels", "3", "--dtypes", "fp32",
          "--repeats", "1", "--json"])
    rows = json.loads(capsys.readouterr().out)["ops"]["rows"]
    assert {(r["backend"], r["flow"]) for r in rows} == {(b, f) for b in ("torch", "grid_sample")
                                                          for f in ("video", "random")}
    for row in rows:  # each flow kind has its own grid_sample baseline
        if row["backend"] == "torch":
            assert row["baseline"] == "grid_sample" and row["speedup_vs_baseline"] > 0
    flow = bench_ops.video_flow(45, 80)
    # Real motion is smooth: neighbouring pixels move alike, unlike random flow.
    step = (flow[..., 1:] - flow[..., :-1]).abs().mean()
    assert flow.shape == (1, 2, 45, 80) and torch.isfinite(flow).all() and step < 0.5 * flow.abs().mean() + 0.05
