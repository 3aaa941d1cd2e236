"""The one prepared GPU check: everything about the GPU path that the CPU-only CI cannot prove, in under 5 minutes.

    python benchmarks/gpu_check.py --out gpu-check.json      # on a machine with a CUDA torch, nvcc and ninja
    python benchmarks/gpu_check.py --dry-run --out plan.json # anywhere: the plan and the report, nothing run

Steps, in order (each one's outcome, time and figures go into one JSON report; the exit status is non-zero when
any step fails or does not fit the time budget):

1. build: two processes build the extension at once into one fresh cache (the build lock serialises them; both
   must end with the kernels loaded); then this process loads it from that cache.
2. gpu-tests: the `cuda` and `cupy` marked tests (pytest).
3. opcheck: `torch.library.opcheck` on every op in float32, float16 and bfloat16, CUDA tensors.
4. inference-mode-choice: a fresh process makes the backend choice on its first op call inside
   `torch.inference_mode()`, as the pipeline does; it must pick the compiled kernels without a warning.
5. large-inputs: a warp and a correlation whose tensors pass 2^31 elements (64-bit indexing), checked exactly.
6. side-stream: both ops on a side stream, against the default stream's results, per backend.
7. bench: `vidinterp bench` at the model's sizes (1080p, its pyramid scales and channels), GB/s against copy.
8. upsample-1080p: `vidinterp upsample --factor 2` of a generated 1080p clip per backend, output fps and GPU
   utilisation sampled every 0.2 s (nvidia-smi, else pynvml; "unavailable" when neither is).

Where no GPU, nvcc or ninja is, it stops within seconds with one clear line on stderr and exit status 2 (after
writing the report saying why). It has NOT yet run on a GPU: see README "GPU check".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIME_BUDGET_S = 300.0
EXIT_FAILED = 1
EXIT_CANNOT_RUN = 2
DTYPES = ("float32", "float16", "bfloat16")


def log(message: str) -> None:
    print(f"gpu_check: {message}", file=sys.stderr, flush=True)


# -- preflight ---------------------------------------------------------------------------------------------------
def preflight() -> list[str]:
    """What is missing for the check to run here (empty when everything is), found in seconds."""
    missing = []
    try:
        import torch
    except ImportError as exc:
        return [f"torch does not import ({exc})"]
    if torch.version.cuda is None:
        missing.append(f"torch {torch.__version__} is a CPU-only build (install a CUDA build of torch)")
    elif not torch.cuda.is_available():
        missing.append("no CUDA GPU visible to torch")
    from torch.utils import cpp_extension

    if cpp_extension.CUDA_HOME is None or not (Path(cpp_extension.CUDA_HOME) / "bin" / "nvcc").exists():
        missing.append("no nvcc (set CUDA_HOME or put the CUDA toolkit's bin on PATH)")
    if shutil.which("ninja") is None:
        missing.append("no ninja (pip install ninja)")
    return missing


def environment() -> dict:
    """Versions and hardware for the report."""
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "host": platform.node(), "cpu_count": os.cpu_count()}
    try:
        from vidinterp import __version__

        info["vidinterp"] = __version__
    except ImportError:
        pass
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info["gpu"] = {"name": props.name, "capability": f"{props.major}.{props.minor}",
                       "memory_gib": round(props.total_memory / 2**30, 1), "count": torch.cuda.device_count()}
    smi = shutil.which("nvidia-smi")
    if smi:
        probe = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                               text=True, timeout=10)
        info["driver"] = probe.stdout.strip().splitlines()[0] if probe.returncode == 0 and probe.stdout else None
    return info


# -- helpers -----------------------------------------------------------------------------------------------------
def run_python(code: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter with this checkout first on the path."""
    full_env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                **(env or {})}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=ROOT)


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class UtilisationSampler:
    """GPU utilisation (%) every `period` s in a thread: nvidia-smi, else pynvml; `samples` stays empty without."""

    def __init__(self, index: int = 0, period: float = 0.2):
        self.index, self.period = index, period
        self.samples: list[float] = []
        self.source = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _reader(self) -> Callable[[], float] | None:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(self.index)
            self.source = "pynvml"
            return lambda: float(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        except Exception:  # noqa: BLE001 - absent or unusable: try nvidia-smi
            pass
        smi = shutil.which("nvidia-smi")
        if smi is None:
            return None
        self.source = "nvidia-smi"
        command = [smi, f"--id={self.index}", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        return lambda: float(subprocess.run(command, capture_output=True, text=True, timeout=5).stdout.strip())

    def _run(self) -> None:
        reader = self._reader()
        while reader is not None and not self._stop.is_set():
            try:
                self.samples.append(reader())
            except Exception:  # noqa: BLE001 - one failed sample is not worth failing the step
                pass
            self._stop.wait(self.period)

    def __enter__(self) -> UtilisationSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def summary(self) -> dict:
        if not self.samples:
            return {"source": self.source or "unavailable"}
        return {"source": self.source, "samples": len(self.samples),
                "mean_pct": round(statistics.mean(self.samples), 1),
                "median_pct": statistics.median(self.samples), "max_pct": max(self.samples)}


def compiled_backends() -> list[str]:
    from vidinterp.ops import available_backends

    return [name for name in available_backends() if name != "torch"]


# -- steps -------------------------------------------------------------------------------------------------------
BUILD_CODE = """
import time, torch
from vidinterp.ops import cuda_backend
start = time.monotonic()
cuda_backend.load_kernels()
assert torch._C._dispatch_has_kernel_for_dispatch_key("vidinterp::backward_warp", "CUDA")
print(f"{time.monotonic() - start:.1f}")
"""


def step_build(state: dict) -> dict:
    cache = Path(tempfile.mkdtemp(prefix="vidinterp-gpu-check-cache-"))
    state["cache"] = str(cache)
    env = {**os.environ, "VIDINTERP_CACHE_DIR": str(cache),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    start = time.monotonic()
    builders = [subprocess.Popen([sys.executable, "-c", BUILD_CODE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, env=env, cwd=ROOT) for _ in range(2)]
    results = [b.communicate(timeout=240) for b in builders]
    wall = time.monotonic() - start
    details = {"wall_s": round(wall, 1), "processes": []}
    ok = True
    for builder, (out, err) in zip(builders, results):
        details["processes"].append({"returncode": builder.returncode, "load_s": out.strip(), "stderr": tail(err, 8)})
        ok &= builder.returncode == 0
    os.environ["VIDINTERP_CACHE_DIR"] = str(cache)  # this process and later steps load the same build
    from vidinterp.ops import cuda_backend

    start = time.monotonic()
    cuda_backend.load_kernels()
    details["in_process_load_s"] = round(time.monotonic() - start, 2)
    return {"ok": ok, **details}


def step_gpu_tests(state: dict) -> dict:
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda or cupy", "-p", "no:cacheprovider"],
                          capture_output=True, text=True, cwd=ROOT, timeout=150,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    summary = tail(proc.stdout, 1)
    return {"ok": proc.returncode == 0, "summary": summary, "output": tail(proc.stdout + proc.stderr, 25)}


def step_opcheck(state: dict) -> dict:
    import torch

    from vidinterp.ops import library

    library.ensure_registered()
    failures, checked = [], 0
    gen = torch.Generator(device="cuda").manual_seed(0)
    for name in DTYPES:
        dtype = getattr(torch, name)
        image = torch.randn(2, 3, 9, 11, device="cuda", generator=gen).to(dtype).requires_grad_()
        flow = (torch.randn(2, 2, 9, 11, device="cuda", generator=gen) * 3).to(dtype).requires_grad_()
        f0 = torch.randn(2, 5, 8, 7, device="cuda", generator=gen).to(dtype).requires_grad_()
        f1 = torch.randn(2, 5, 8, 7, device="cuda", generator=gen).to(dtype).requires_grad_()
        grad_w = torch.randn(2, 3, 9, 11, device="cuda", generator=gen).to(dtype)
        grad_c = torch.randn(2, 25, 8, 7, device="cuda", generator=gen).to(dtype)
        cases = [
            ("backward_warp", (image, flow, 0)), ("backward_warp", (image, flow, 1)),
            ("correlation", (f0, f1, 2)),
        ]
        for mask in ([True, True], [True, False], [False, True]):
            cases.append(("backward_warp_backward", (grad_w, image.detach(), flow.detach(), 1, mask)))
            cases.append(("correlation_backward", (grad_c, f0.detach(), f1.detach(), 2, mask)))
        for op, args in cases:
            checked += 1
            try:
                # The warp backward's float atomics are nondeterministic: skip opcheck's bitwise-determinism test.
                torch.library.opcheck(getattr(torch.ops.vidinterp, op).default, args,
                                      test_utils=("test_schema", "test_autograd_registration", "test_faketensor",
                                                  "test_aot_dispatch_dynamic"))
            except Exception as exc:  # noqa: BLE001 - recorded per case
                failures.append(f"{op} {name}: {type(exc).__name__}: {str(exc)[:300]}")
    return {"ok": not failures, "checked": checked, "failures": failures}


INFERENCE_CODE = """
import warnings, torch
warnings.simplefilter("error")
from vidinterp import ops
from vidinterp.ops import backends
image = torch.rand(1, 3, 64, 64, device="cuda")
flow = torch.zeros(1, 2, 64, 64, device="cuda")
with torch.inference_mode():
    out = ops.backward_warp(image, flow)
torch.cuda.synchronize()
print(backends.backend_for(torch.device("cuda", 0)))
"""


def step_inference_mode_choice(state: dict) -> dict:
    proc = run_python(INFERENCE_CODE, env={"VIDINTERP_CACHE_DIR": state.get("cache", "")}, timeout=120)
    chosen = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else None
    return {"ok": proc.returncode == 0 and chosen == "cuda", "chosen": chosen, "stderr": tail(proc.stderr, 10)}


def step_large_inputs(state: dict) -> dict:
    """Tensors past 2^31 elements: an integer shift is exact in bilinear sampling, so the result is checkable."""
    import torch

    from vidinterp import ops

    results = {}
    free, _ = torch.cuda.mem_get_info()
    # Warp: 1×64×5800×5800 half = 2.15e9 elements (4.3 GB in, 4.3 GB out).
    c, h, w = 64, 5800, 5800
    if free < 12 * 2**30:
        return {"ok": False, "error": f"needs about 12 GiB free GPU memory, {free / 2**30:.1f} GiB free"}
    image = torch.arange(h * w, device="cuda", dtype=torch.float32).remainder_(1021).view(1, 1, h, w)
    image = image.to(torch.float16).expand(1, c, h, w).contiguous()
    image[0, -1] += 1  # the last channel differs, so an index that wraps past 2^31 shows
    flow = torch.zeros(1, 2, h, w, device="cuda", dtype=torch.float16)
    flow[:, 0] = 1.0  # read one pixel to the right
    out = ops.backward_warp(image, flow, "border")
    want_last = torch.cat([image[0, -1, :, 1:], image[0, -1, :, -1:]], dim=1)
    results["warp_elements"] = image.numel()
    results["warp_exact"] = bool(torch.equal(out[0, -1], want_last)) and bool(torch.equal(out[0, 0, :, :-1],
                                                                                       image[0, 0, :, 1:]))
    del image, flow, out, want_last
    torch.cuda.empty_cache()
    # Correlation: 81 displacements × 5200² outputs = 2.19e9 elements; 2 channels keep the inputs small.
    d, h, w = 4, 5200, 5200
    gen = torch.Generator(device="cuda").manual_seed(0)
    f0 = torch.randn(1, 2, h, w, device="cuda", generator=gen).to(torch.float16)
    f1 = torch.randn(1, 2, h, w, device="cuda", generator=gen).to(torch.float16)
    out = ops.correlation(f0, f1, d)
    results["correlation_elements"] = out.numel()
    y, x = h - 7, w - 9  # near the end of the last displacement's plane, shifted still inside
    k = out.shape[1] - 1  # dy = dx = +d
    want = (f0[0, :, y, x].float() * f1[0, :, y + d, x + d].float()).mean()
    got = out[0, k, y, x].float()
    results["correlation_close"] = bool(torch.isclose(got, torch.as_tensor(want, device="cuda"), atol=2e-2, rtol=1e-2))
    results["correlation_edge_zero"] = bool(out[0, k, h - 1, w - 1] == 0)  # shifted outside the image
    del f0, f1, out
    torch.cuda.empty_cache()
    ok = results["warp_exact"] and results["correlation_close"] and results["correlation_edge_zero"]
    return {"ok": ok, **results}


def step_side_stream(state: dict) -> dict:
    import torch

    from vidinterp.ops import backends

    report, ok = {}, True
    gen = torch.Generator(device="cuda").manual_seed(2)
    for name in ["torch", *compiled_backends()]:
        backends.set_backend(name)
        from vidinterp import ops

        image = torch.randn(2, 16, 270, 480, device="cuda", generator=gen)
        flow = torch.randn(2, 2, 270, 480, device="cuda", generator=gen) * 5
        want_w = ops.backward_warp(image, flow, "zeros")
        want_c = ops.correlation(image, image.roll(1, 3), 4)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            # Inputs produced on the side stream itself: the kernels must run on it, after them.
            image_s = image * 1.0
            flow_s = flow * 1.0
            got_w = ops.backward_warp(image_s, flow_s, "zeros")
            got_c = ops.correlation(image_s, image_s.roll(1, 3), 4)
        torch.cuda.current_stream().wait_stream(side)
        torch.cuda.synchronize()
        same = torch.allclose(got_w, want_w, atol=1e-5) and torch.allclose(got_c, want_c, atol=1e-5)
        report[name] = "ok" if same else "differs from the default stream"
        ok &= same
    backends.set_backend(None)
    return {"ok": ok, "backends": report}


def step_bench(state: dict, out_dir: Path) -> dict:
    target = out_dir / "gpu-check-bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ops.py"), "--out", str(target), "--device", "cuda",
         "--resolutions", "1080p", "--dtypes", "fp16,fp32", "--repeats", "10"],
        capture_output=True, text=True, cwd=ROOT, timeout=150, env={**os.environ, "PYTHONPATH": str(ROOT)})
    details = {"ok": proc.returncode == 0, "json": str(target), "stderr": tail(proc.stderr, 10)}
    if target.exists():
        details["result"] = json.loads(target.read_text())
    return details


def make_1080p_clip(path: Path, seconds: float = 2.0) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size=1920x1080:rate=24:d={seconds}",
                    "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)], check=True,
                   timeout=60)


def step_upsample_1080p(state: dict, out_dir: Path) -> dict:
    clip = out_dir / "gpu-check-1080p.mp4"
    make_1080p_clip(clip)
    frames_in = 48
    runs, ok = {}, True
    for name in [*compiled_backends(), "torch"]:
        target = out_dir / f"gpu-check-1080p-x2-{name}.mp4"
        env = {**os.environ, "PYTHONPATH": str(ROOT), "VIDINTERP_BACKEND": name}
        with UtilisationSampler() as sampler:
            start = time.monotonic()
            proc = subprocess.run([sys.executable, "-m", "vidinterp", "upsample", str(clip), str(target),
                                   "--factor", "2", "--device", "cuda", "--overwrite"],
                                  capture_output=True, text=True, cwd=ROOT, timeout=120, env=env)
            wall = time.monotonic() - start
        run = {"returncode": proc.returncode, "wall_s": round(wall, 2),
               "output_fps": round((2 * frames_in - 1) / wall, 1), "gpu_utilisation": sampler.summary(),
               "stderr": tail(proc.stderr, 6)}
        runs[name] = run
        ok &= proc.returncode == 0 and target.exists() and target.stat().st_size > 0
    return {"ok": ok, "clip": "testsrc2 1920x1080 24 fps, 2 s (48 frames), x264 output", "runs": runs}


# -- driver ------------------------------------------------------------------------------------------------------
def plan(out_dir: Path) -> list[tuple[str, str, Callable[[dict], dict]]]:
    """(name, what it checks, step) in the order they run."""
    return [
        ("build", "two processes build the extension at once into one fresh cache; this one loads it", step_build),
        ("gpu-tests", "pytest -m 'cuda or cupy'", step_gpu_tests),
        ("opcheck", "torch.library.opcheck on every op in float32, float16, bfloat16", step_opcheck),
        ("inference-mode-choice", "the backend choice made inside torch.inference_mode() picks cuda",
         step_inference_mode_choice),
        ("large-inputs", "warp and correlation past 2^31 elements, checked exactly", step_large_inputs),
        ("side-stream", "both ops on a side stream match the default stream, per backend", step_side_stream),
        ("bench", "vidinterp bench at 1080p, the model's scales and channels",
         lambda state: step_bench(state, out_dir)),
        ("upsample-1080p", "vidinterp upsample --factor 2 of a 1080p clip per backend, GPU utilisation sampled",
         lambda state: step_upsample_1080p(state, out_dir)),
    ]


def run_plan(steps, budget_s: float, dry_run: bool) -> list[dict]:
    state: dict = {}
    results = []
    start = time.monotonic()
    for name, description, function in steps:
        elapsed = time.monotonic() - start
        if elapsed > budget_s:
            results.append({"step": name, "status": "not run", "why": f"time budget of {budget_s:.0f} s spent"})
            continue
        if dry_run:
            results.append({"step": name, "status": "dry-run", "would_run": description})
            continue
        log(f"{name} ...")
        step_start = time.monotonic()
        try:
            outcome = function(state)
            status = "ok" if outcome.pop("ok") else "failed"
        except Exception as exc:  # noqa: BLE001 - a crashing step is a failed step; the others still run
            outcome, status = {"error": f"{type(exc).__name__}: {exc}"}, "failed"
        results.append({"step": name, "status": status, "seconds": round(time.monotonic() - step_start, 1),
                        **outcome})
        log(f"{name}: {status} ({results[-1]['seconds']} s)")
    return results


def write_report(path: Path | None, report: dict) -> None:
    text = json.dumps(report, indent=2, default=str)
    if path is None:
        print(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    temporary.write_text(text + "\n")
    temporary.replace(path)  # atomic: a reader never sees half a report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, help="JSON report file (default: stdout)")
    parser.add_argument("--dry-run", action="store_true", help="go through the plan and write the report, run nothing")
    parser.add_argument("--budget", type=float, default=TIME_BUDGET_S, help="seconds for all steps (default 300)")
    args = parser.parse_args(argv)
    out_dir = (args.out.parent if args.out else Path.cwd()).resolve()
    started = time.time()
    missing = preflight()
    report = {"check": "vidinterp gpu_check", "dry_run": args.dry_run, "started_unix": round(started, 1),
              "environment": environment(), "missing": missing}
    if missing and not args.dry_run:
        report.update(status="cannot run here", steps=[])
        write_report(args.out, report)
        log("cannot run here: " + "; ".join(missing))
        return EXIT_CANNOT_RUN
    steps = run_plan(plan(out_dir), args.budget, args.dry_run)
    failed = [s["step"] for s in steps if s["status"] not in ("ok", "dry-run")]
    report.update(steps=steps, failed=failed, seconds=round(time.time() - started, 1),
                  status="dry run" if args.dry_run else ("failed" if failed else "ok"))
    write_report(args.out, report)
    if failed:
        log(f"FAILED: {', '.join(failed)}")
        return EXIT_FAILED
    log("dry run: plan and report written, nothing run" if args.dry_run else f"ok in {report['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
