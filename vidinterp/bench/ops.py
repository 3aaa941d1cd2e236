"""Operator timings: every op × backend × pyramid-level shape × channel count × dtype, with bandwidth figures.

Each row has the median forward and forward+backward time, the achieved GB/s from a minimum-bytes model (every
input read once, every output written once) and its share of the copy bandwidth measured in the same run, the
TFLOP/s of correlation (2·C·(2d+1)² per output pixel), and the speed-up over the baseline the GPU targets are
stated against: the grid_sample recipe for the warp, the PyTorch fallback for correlation.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
from dataclasses import dataclass
from typing import Callable

import torch

from vidinterp.bench.timing import copy_bandwidth, median_seconds
from vidinterp.errors import VidinterpError

log = logging.getLogger("vidinterp.bench")

RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
SCALES = (1, 2, 4, 8, 16)
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp64": torch.float64}
OPS = ("warp", "correlation")
GRID_SAMPLE = "grid_sample"  # the warp baseline: normalised grid + torch.nn.functional.grid_sample
FALLBACK_CHANNELS = (16, 32, 64, 96)


def model_channel_counts() -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """(warp channel counts, correlation channel counts, max displacement) the model uses, from its config."""
    try:
        from vidinterp.models.config import ModelConfig

        config = ModelConfig()
        warp = tuple(sorted({3, *config.encoder_channels}))
        return warp, (int(config.matching_channels),), int(max(config.max_displacement))
    except Exception:  # noqa: BLE001 - the model package may not exist yet; the documented fallback applies
        return (3, *FALLBACK_CHANNELS), FALLBACK_CHANNELS, 4


@dataclass
class OpsBenchConfig:
    """What to time; None fields mean "everything that applies" (all available backends, the model's channels)."""

    ops: tuple[str, ...] = OPS
    backends: tuple[str, ...] | None = None
    resolutions: tuple[str, ...] = tuple(RESOLUTIONS)
    scales: tuple[int, ...] = SCALES
    dtypes: tuple[str, ...] = ("fp32", "fp16")
    warp_channels: tuple[int, ...] | None = None
    correlation_channels: tuple[int, ...] | None = None
    max_displacement: int | None = None
    device: str = "auto"
    repeats: int = 5
    warmup: int = 2
    backward: bool = True
    copy_megabytes: int | None = None  # size of the copy-bandwidth buffer (default: 256 MiB GPU, 64 MiB CPU)
    max_gib: float | None = None  # skip shapes whose working set is larger (default: 2 GiB CPU, 16 GiB GPU)
    #: flows the warp is timed with: "video" (DIS flow between two real frames: smooth, so neighbouring pixels
    #: read neighbouring memory, as in use) and "random" (uncorrelated: the worst case for the caches)
    warp_flows: tuple[str, ...] = ("video", "random")

    @classmethod
    def quick(cls, **overrides) -> "OpsBenchConfig":
        """A small sweep that finishes in well under a minute on a 2-core CPU."""
        warp_channels, corr_channels, _ = model_channel_counts()
        base = dict(resolutions=("720p",), scales=(4, 16), dtypes=("fp32",), repeats=3, warmup=1, copy_megabytes=64,
                    warp_channels=(3, min(c for c in warp_channels if c != 3)), correlation_channels=corr_channels[:1])
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


def grid_sample_warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The usual recipe the warp is compared with: absolute positions normalised to [-1, 1], then grid_sample.

    On the CPU, half-precision inputs are sampled in float32: this torch build's CPU grid_sample crashes the
    interpreter on half-precision grids at 720p (and fp16 cannot hold the positions of a wide frame anyway).
    """
    n, _, h, w = image.shape
    dtype = image.dtype
    if image.device.type == "cpu" and dtype in (torch.float16, torch.bfloat16):
        image, flow = image.float(), flow.float()
    xs = torch.arange(w, device=image.device, dtype=image.dtype).view(1, 1, w) + flow[:, 0]
    ys = torch.arange(h, device=image.device, dtype=image.dtype).view(1, h, 1) + flow[:, 1]
    grid = torch.stack([xs * (2 / max(w - 1, 1)) - 1, ys * (2 / max(h - 1, 1)) - 1], dim=-1)
    return torch.nn.functional.grid_sample(image, grid, padding_mode="border", align_corners=True).to(dtype)


WARP_FLOWS = ("video", "random")


@functools.lru_cache(maxsize=16)
def video_flow(height: int, width: int) -> torch.Tensor:
    """1×2×H×W float32 DIS flow (preset medium) between two consecutive frames of real video at this size, on the
    CPU: the motion the warp sees in use (see `vidinterp.bench.frames`)."""
    from vidinterp.bench.frames import benchmark_pair
    from vidinterp.execution.prior import DisFlow

    frame0, frame1 = benchmark_pair(height, width)
    flow_01, _ = DisFlow("medium")(frame0, frame1)
    return flow_01.float()


def warp_flow(kind: str, height: int, width: int, generator: torch.Generator) -> torch.Tensor:
    """A 1×2×H×W float32 flow of `kind` ("video" or "random") for timing the warp."""
    if kind == "video":
        return video_flow(height, width)
    if kind == "random":
        return torch.randn(1, 2, height, width, generator=generator) * 4
    raise ValueError(f"unknown warp flow {kind!r}; choose from {', '.join(WARP_FLOWS)}")


def _implementations(op: str, device: torch.device, wanted: tuple[str, ...] | None) -> dict[str, Callable]:
    """name → callable(inputs...) for every backend that can run `op` on `device` (baselines included)."""
    from vidinterp.ops import backends

    names = ["torch"] if device.type == "cpu" else backends.available_backends()
    found: dict[str, Callable] = {}
    for name in names:
        module = backends._module(name)
        found[name] = module.backward_warp if op == "warp" else module.correlation
    if op == "warp":
        found[GRID_SAMPLE] = lambda image, flow, padding: grid_sample_warp(image, flow)
    if wanted is not None:
        found = {k: v for k, v in found.items() if k in wanted or (k == GRID_SAMPLE and "torch" in wanted)}
    return found


def _check_backends(config: OpsBenchConfig, device: torch.device) -> None:
    """Refuse, in one line that says why, a sweep in which none of the asked-for backends can run on `device`
    (an empty table with exit status 0 would read as a success); name the ones left out of a partial one."""
    if config.backends is None:
        return
    from vidinterp.ops import backends

    runs = {name for op in config.ops for name in _implementations(op, device, config.backends)}
    left_out = [name for name in config.backends if name not in runs]
    if not left_out:
        return
    reasons = "; ".join(f"{name}: {_why_not(name, device, backends)}" for name in left_out)
    if not runs:
        raise VidinterpError(f"none of --backends {','.join(config.backends)} can run on {device} ({reasons}); "
                             "nothing was timed")
    log.warning("--backends: %s left out (%s)", ", ".join(left_out), reasons)


def _why_not(name: str, device: torch.device, backends) -> str:
    available, reason = backends.backend_status(name)
    if not available:
        return reason
    return f"it runs on CUDA tensors, and the device is {device}"


def _shapes(config: OpsBenchConfig) -> list[tuple[str, int, int, int]]:
    shapes = []
    for resolution in config.resolutions:
        width, height = RESOLUTIONS[resolution]
        for scale in config.scales:
            shapes.append((resolution, scale, math.ceil(height / scale), math.ceil(width / scale)))
    return shapes


def _row_base(op, backend, resolution, scale, h, w, c, dtype_name, d=None) -> dict:
    return {"op": op, "backend": backend, "resolution": resolution, "scale": f"1/{scale}" if scale > 1 else "1",
            "height": h, "width": w, "channels": c, "dtype": dtype_name, "max_displacement": d}


def _time_pair(
    forward: Callable, inputs: list[torch.Tensor], grad: torch.Tensor, device, config
) -> tuple[float, float | None]:
    """(forward seconds without autograd, forward+backward seconds or None)."""
    with torch.no_grad():
        fwd = median_seconds(lambda: forward(*inputs), device, config.repeats, config.warmup)
    if not config.backward:
        return fwd, None
    leaves = [t.detach().requires_grad_() for t in inputs]

    def step():
        for leaf in leaves:
            leaf.grad = None
        forward(*leaves).backward(grad)

    return fwd, median_seconds(step, device, config.repeats, config.warmup)


def run_ops_bench(config: OpsBenchConfig, on_row: Callable[[dict], None] | None = None) -> dict:
    """Run the sweep; returns {"device", "copy_gbps", "rows": [...]} (one row per measurement or skip)."""
    from vidinterp.interpolators.device import resolve_device

    device = resolve_device(config.device)
    _check_backends(config, device)
    warp_channels, corr_channels, model_d = model_channel_counts()
    warp_channels = config.warp_channels or warp_channels
    corr_channels = config.correlation_channels or corr_channels
    d = config.max_displacement if config.max_displacement is not None else model_d
    k2 = (2 * d + 1) ** 2
    max_bytes = (config.max_gib or (16.0 if device.type == "cuda" else 2.0)) * 2**30
    copy_bps = copy_bandwidth(device, config.copy_megabytes or (256 if device.type == "cuda" else 64))
    rows: list[dict] = []
    gen = torch.Generator().manual_seed(0)

    def emit(row: dict) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    for op in config.ops:
        impls = _implementations(op, device, config.backends)
        channel_list = warp_channels if op == "warp" else corr_channels
        for resolution, scale, h, w in _shapes(config):
            for c in channel_list:
                for dtype_name in config.dtypes:
                    dtype = DTYPES[dtype_name]
                    size = torch.empty((), dtype=dtype).element_size()
                    pixels = h * w
                    if op == "warp":
                        fwd_bytes = (2 * c + 2) * pixels * size
                        bwd_bytes = (3 * c + 4) * pixels * size
                        working = (12 * c + 8) * pixels * 4
                        flops = None
                    else:
                        fwd_bytes = (2 * c + k2) * pixels * size
                        bwd_bytes = (4 * c + k2) * pixels * size
                        working = (3 * k2 + 8 * c) * pixels * 4
                        flops = 2 * c * k2 * pixels
                    for flow_kind in (config.warp_flows if op == "warp" else (None,)):
                        times: dict[str, float] = {}
                        for backend, fn in impls.items():
                            row = _row_base(op, backend, resolution, scale, h, w, c, dtype_name,
                                            d if op == "correlation" else None)
                            if flow_kind is not None:
                                row["flow"] = flow_kind
                            if working > max_bytes:
                                gib, limit = working / 2**30, max_bytes / 2**30
                                row["skipped"] = f"working set {gib:.1f} GiB > limit {limit:.1f} GiB"
                                emit(row)
                                continue
                            if op == "warp":
                                inputs = [torch.rand(1, c, h, w, generator=gen).to(device, dtype),
                                          warp_flow(flow_kind, h, w, gen).to(device, dtype)]
                                forward = (lambda f: lambda a, b: f(a, b, "border"))(fn)
                                grad = torch.ones(1, c, h, w, device=device, dtype=dtype)
                            else:
                                inputs = [torch.randn(1, c, h, w, generator=gen).to(device, dtype),
                                          torch.randn(1, c, h, w, generator=gen).to(device, dtype)]
                                forward = (lambda f: lambda a, b: f(a, b, d))(fn)
                                grad = torch.ones(1, k2, h, w, device=device, dtype=dtype)
                            try:
                                fwd, fwdbwd = _time_pair(forward, inputs, grad, device, config)
                            except Exception as exc:  # noqa: BLE001 - OOM or a missing kernel: report, keep going
                                row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
                                emit(row)
                                continue
                            times[backend] = fwd
                            row.update(
                                forward_ms=fwd * 1e3,
                                forward_backward_ms=None if fwdbwd is None else fwdbwd * 1e3,
                                forward_gbps=fwd_bytes / fwd / 1e9,
                                forward_copy_share=fwd_bytes / fwd / copy_bps,
                                forward_backward_gbps=(
                                    None if fwdbwd is None else (fwd_bytes + bwd_bytes) / fwdbwd / 1e9
                                ),
                                forward_tflops=None if flops is None else flops / fwd / 1e12,
                            )
                            emit(row)
                        baseline = GRID_SAMPLE if op == "warp" else "torch"
                        for row in rows[-len(impls):]:
                            if baseline in times and row.get("backend") in times and row["backend"] != baseline:
                                row["speedup_vs_baseline"] = times[baseline] / times[row["backend"]]
                                row["baseline"] = baseline
    return {"device": str(device), "copy_gbps": copy_bps / 1e9, "max_displacement": d, "rows": rows,
            "config": {k: v for k, v in dataclasses.asdict(config).items()}}
