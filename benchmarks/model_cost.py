"""Cost of the interpolation model: parameters, GFLOPs and CPU latency for one frame pair at t = 0.5.

    python benchmarks/model_cost.py                  # default (shipped) config, 2 CPU threads
    python benchmarks/model_cost.py --model net      # a saved model
    python benchmarks/model_cost.py --json           # machine-readable result on stdout

Latency is the median of --repeats runs of estimate_motion + synthesize (one pair, t = 0.5), fp32 eager,
after one warm-up run; the CPU time (all threads) is reported too, because wall time on a shared, busy machine
overstates the latency on dedicated cores. The product requirement is ≤ 0.5 s at 640×480 on 2 CPU cores. FLOPs are counted with
torch.utils.flop_counter (convolutions and matrix products; warps and correlations are not counted).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from vidinterp.models import ModelConfig, VFIModel, load_model

SIZES = {"640x480": (480, 640), "1280x720": (720, 1280)}


def _pair(height: int, width: int, multiple: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random pair padded up to the model's multiple, as the interpolator would pad it."""
    h, w = -(-height // multiple) * multiple, -(-width // multiple) * multiple
    g = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, h, w, generator=g), torch.rand(1, 3, h, w, generator=g)


def _run(model: VFIModel, f0: torch.Tensor, f1: torch.Tensor) -> torch.Tensor:
    state = model.estimate_motion(f0, f1)
    return model.synthesize(state, torch.tensor([0]), torch.tensor([0.5]))


def measure(model: VFIModel, height: int, width: int, repeats: int) -> dict[str, float]:
    """GFLOPs and latency statistics (seconds) for one pair of the given size."""
    f0, f1 = _pair(height, width, model.pad_multiple)
    with torch.inference_mode():
        with FlopCounterMode(display=False) as counter:
            _run(model, f0, f1)
        _run(model, f0, f1)  # warm-up: allocator and oneDNN kernel selection
        times, motion_times, cpu_times = [], [], []
        for _ in range(repeats):
            cpu_start = time.process_time()
            start = time.perf_counter()
            state = model.estimate_motion(f0, f1)
            mid = time.perf_counter()
            model.synthesize(state, torch.tensor([0]), torch.tensor([0.5]))
            times.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
            motion_times.append(mid - start)
    return {
        "gflops": counter.get_total_flops() / 1e9,
        "latency_median_s": statistics.median(times),
        "latency_min_s": min(times),
        # CPU seconds summed over threads: on a busy shared machine, cpu / threads estimates the wall time on
        # dedicated cores (a lower bound; it assumes perfect parallelism).
        "cpu_median_s": statistics.median(cpu_times),
        "motion_median_s": statistics.median(motion_times),
        "synthesis_median_s": statistics.median(t - m for t, m in zip(times, motion_times)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="saved model path (default: a freshly initialised default-config model)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads), default 2")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per size, default 5")
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = load_model(args.model) if args.model else VFIModel.from_config(ModelConfig()).eval()
    config = model.config or ModelConfig()
    result = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "inference_parameters": sum(p.numel() for n, p in model.named_parameters() if not n.startswith("autoencoder.decoder")),
        "threads": args.threads,
        "load_average_1min": os.getloadavg()[0],
        "coarsest_search_radius_px": config.coarsest_search_radius,
        "sizes": {name: measure(model, h, w, args.repeats) for name, (h, w) in SIZES.items()},
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"parameters: {result['parameters']:,} ({result['inference_parameters']:,} used at inference)", file=sys.stderr)
    print(f"coarsest correlation covers ±{config.coarsest_search_radius} px; {args.threads} threads; "
          f"load average {result['load_average_1min']:.2f}", file=sys.stderr)
    for name, r in result["sizes"].items():
        print(f"{name}: {r['gflops']:.2f} GFLOPs, median {r['latency_median_s'] * 1000:.0f} ms "
              f"(min {r['latency_min_s'] * 1000:.0f}; motion {r['motion_median_s'] * 1000:.0f}, "
              f"synthesis {r['synthesis_median_s'] * 1000:.0f}); CPU time {r['cpu_median_s'] * 1000:.0f} ms", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
