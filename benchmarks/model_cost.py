"""Cost of the interpolation model: parameters, GFLOPs, CPU latency and achieved GFLOP/s for one pair at t = 0.5.

    python benchmarks/model_cost.py                  # shipped model, 2 CPU threads, the default runtime
    python benchmarks/model_cost.py --precision bf16 # the opt-in bf16 mode (CPUs with AMX / AVX512-BF16)
    python benchmarks/model_cost.py --model net      # a saved model; --untrained: a fresh default config
    python benchmarks/model_cost.py --json           # machine-readable result on stdout

Latency is the median of --repeats runs of `ModelInterpolator.prepare` + `synthesize` (one pair, t = 0.5), the
runtime users get (precision, channels_last, compile as `vidinterp.interpolators.runtime` decides), after one
warm-up run. The pair is two consecutive frames of real video (the packaged sample, or --clip) resized to each
size and converted as the pipeline converts decoded frames (`vidinterp.bench.frames`). The CPU time (all
threads) is reported too, because wall time on a shared, busy machine overstates the latency on dedicated
cores. Achieved GFLOP/s (model FLOPs / median latency) is printed beside the CPU's peak measured in the same
run: a large fp32 and a large bf16 matrix product. FLOPs are counted with torch.utils.flop_counter
(convolutions and matrix products; warps and correlations are not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

try:
    import vidinterp  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from torch.utils.flop_counter import FlopCounterMode

from vidinterp.bench.environment import hardware_info, software_versions
from vidinterp.bench.frames import benchmark_images
from vidinterp.interpolators.model import ModelInterpolator
from vidinterp.interpolators.runtime import PRECISIONS
from vidinterp.models import ModelConfig, VFIModel, load_model

SIZES = {"640x480": (480, 640), "1280x720": (720, 1280)}
PEAK_SIZE = 4096  # square matmul used to measure what the CPU allows


def matmul_peak_gflops(dtype: torch.dtype, size: int = PEAK_SIZE, repeats: int = 5) -> float:
    """Achieved GFLOP/s of a size×size matrix product in `dtype` (the best of `repeats`: the CPU's ceiling)."""
    a = torch.randn(size, size).to(dtype)
    b = torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def measure(interpolator: ModelInterpolator, height: int, width: int, repeats: int,
            clip: str | None = None) -> dict[str, float]:
    """GFLOPs and latency statistics (seconds) for one pair of the given size, through the interpolator's runtime."""
    image0, image1 = benchmark_images(height, width, clip)
    f0, f1 = [image0], [image1]
    index, t = torch.tensor([0]), torch.tensor([0.5])
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:
            interpolator.synthesize(interpolator.prepare(f0, f1), index, t)
        interpolator.synthesize(interpolator.prepare(f0, f1), index, t)  # warm-up: allocator, oneDNN kernels
        times, motion_times, cpu_times = [], [], []
        for _ in range(repeats):
            cpu_start = time.process_time()
            start = time.perf_counter()
            prepared = interpolator.prepare(f0, f1)
            mid = time.perf_counter()
            interpolator.synthesize(prepared, index, t)
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
            motion_times.append(mid - start)
    gflops = counter.get_total_flops() / 1e9
    latency = statistics.median(times)
    return {
        "gflops": gflops,
        "latency_median_s": latency,
        "latency_min_s": min(times),
        "achieved_gflops_per_s": gflops / latency,
        # CPU seconds summed over threads: on a busy shared machine, cpu / threads estimates the wall time on
        # dedicated cores (a lower bound; it assumes perfect parallelism).
        "cpu_median_s": statistics.median(cpu_times),
        "motion_median_s": statistics.median(motion_times),
        "synthesis_median_s": statistics.median(t - m for t, m in zip(times, motion_times)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="saved model path (default: the shipped weights)")
    parser.add_argument("--untrained", action="store_true", help="a freshly initialised default-config model")
    parser.add_argument("--precision", choices=PRECISIONS, default=None,
                        help="model precision (default: auto = bf16 on AMX CPUs, else fp32; or VIDINTERP_PRECISION). "
                             "bf16 costs <= 0.01 dB on every eval set with the shipped model")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads), default 2")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per size, default 5")
    parser.add_argument("--clip", help="video whose frames are timed, resized to each size (default: the packaged "
                                       "sample clip)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = VFIModel.from_config(ModelConfig()).eval() if args.untrained else load_model(args.model)
    config = model.config or ModelConfig()
    interpolator = ModelInterpolator(device="cpu", model=model, precision=args.precision)
    runtime = interpolator.runtime
    result = {
        "parameters": sum(p.numel() for p in model.parameters()),
        # the keyframe decoder serves the training's reconstruction loss only; inference skips it
        "inference_parameters": sum(
            p.numel() for n, p in model.named_parameters() if not n.startswith("autoencoder.decoder")
        ),
        "threads": args.threads,
        "load_average_1min": os.getloadavg()[0],
        "coarsest_search_radius_px": config.coarsest_search_radius,
        "runtime": {"precision": runtime.precision, "channels_last": runtime.channels_last,
                    "compile": runtime.compile},
        "frames": args.clip or "packaged sample clip",
        "sizes": {name: measure(interpolator, h, w, args.repeats, args.clip) for name, (h, w) in SIZES.items()},
        "cpu_peak_gflops_per_s": {"fp32": matmul_peak_gflops(torch.float32),
                                  "bf16": matmul_peak_gflops(torch.bfloat16)},
        "hardware": hardware_info(),
        "versions": software_versions(),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"parameters: {result['parameters']:,} ({result['inference_parameters']:,} used at inference)",
          file=sys.stderr)
    print(f"coarsest correlation covers ±{config.coarsest_search_radius} px; {args.threads} threads; "
          f"load average {result['load_average_1min']:.2f}", file=sys.stderr)
    peak = result["cpu_peak_gflops_per_s"]
    print(f"runtime: {runtime.precision}, channels_last {runtime.channels_last}, compile {runtime.compile}; "
          f"CPU peak (4096² matmul): fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {peak['bf16']:.0f} GFLOP/s", file=sys.stderr)
    for name, r in result["sizes"].items():
        print(f"{name}: {r['gflops']:.2f} GFLOPs, median {r['latency_median_s'] * 1000:.0f} ms "
              f"(min {r['latency_min_s'] * 1000:.0f}; motion {r['motion_median_s'] * 1000:.0f}, "
              f"synthesis {r['synthesis_median_s'] * 1000:.0f}); CPU time {r['cpu_median_s'] * 1000:.0f} ms; "
              f"achieved {r['achieved_gflops_per_s']:.0f} GFLOP/s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
