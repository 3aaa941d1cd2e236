"""`vidinterp bench`: time the custom operators per backend and shape, and optionally a whole interpolation."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from vidinterp.cli.model_options import Device, Fp16, MaxSide, Method, Model, Precision
from vidinterp.errors import UsageError
from vidinterp.execution.settings import DEFAULT_DEVICE, Settings, build_settings

EPILOG = """**Examples**

* `vidinterp bench --quick`: a small sweep (well under a minute on a laptop CPU)
* `vidinterp bench --ops warp --resolutions 1080p --scales 1 --channels 3,32 --json > warp.json`
* `vidinterp bench --backends cuda,torch --dtypes fp16`: compare the CUDA kernels with the PyTorch fallback
* `vidinterp bench --skip-ops --end-to-end`: only time create_interpolator(...).interpolate
"""


def _csv(text: Optional[str], allowed: tuple[str, ...] | None, option: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    items = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    if not items:
        raise UsageError(f"{option} needs at least one value")
    if allowed is not None:
        unknown = [item for item in items if item not in allowed]
        if unknown:
            raise UsageError(f"{option}: unknown value(s) {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return items


def _ints(text: Optional[str], option: str) -> tuple[int, ...] | None:
    items = _csv(text, None, option)
    if items is None:
        return None
    try:
        values = tuple(int(item) for item in items)
    except ValueError:
        raise UsageError(f"{option} takes whole numbers separated by commas, got '{text}'") from None
    if any(v <= 0 for v in values):
        raise UsageError(f"{option} values must be positive, got '{text}'")
    return values


def _fmt(value, digits=2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _print_tables(result: dict, to_stderr: bool) -> None:
    """The report as tables: on stdout, or on stderr when stdout carries the JSON."""
    from rich.console import Console
    from rich.table import Table

    stream = sys.stderr if to_stderr else sys.stdout
    # Wide enough for the full table when the stream is a file or pipe (rich would assume 80 columns).
    console = Console(file=stream, width=None if stream.isatty() else 160)
    ops = result.get("ops")
    if ops:
        table = Table(title=f"operators on {ops['device']} (copy bandwidth {ops['copy_gbps']:.1f} GB/s)")
        for name in ("op", "backend", "shape", "C", "dtype", "fwd ms", "fwd+bwd ms", "GB/s", "% copy", "TFLOP/s",
                     "× baseline"):
            table.add_column(name, justify="left" if name in ("op", "backend", "shape", "dtype") else "right")
        for row in ops["rows"]:
            shape = f"{row['resolution']} {row['scale']} ({row['width']}×{row['height']})"
            op = f"{row['op']} ({row['flow']} flow)" if row.get("flow") else row["op"]
            if "skipped" in row or "error" in row:
                table.add_row(op, row["backend"], shape, str(row["channels"]), row["dtype"],
                              f"[yellow]{row.get('skipped') or row.get('error')}[/]")
                continue
            speedup = row.get("speedup_vs_baseline")
            table.add_row(
                op, row["backend"], shape, str(row["channels"]), row["dtype"], _fmt(row["forward_ms"]),
                _fmt(row["forward_backward_ms"]), _fmt(row["forward_gbps"]), _fmt(100 * row["forward_copy_share"], 1),
                _fmt(row["forward_tflops"], 3),
                "-" if speedup is None else f"{speedup:.2f} vs {row['baseline']}",
            )
        console.print(table)
    e2e = result.get("end_to_end")
    if e2e is not None:
        table = Table(title="end to end: interpolate(f0, f1, 0.5), one pair")
        for name in ("method", "device", "size", "ms", "frames/s"):
            table.add_column(name)
        for row in e2e:
            if "skipped" in row:
                table.add_row(row["method"], "-", "-", f"[yellow]{row['skipped']}[/]", "")
            elif "error" in row:
                table.add_row(row["method"], row["device"], f"{row['width']}×{row['height']}", f"[red]{row['error']}[/]", "")
            else:
                table.add_row(row["method"], row["device"], f"{row['width']}×{row['height']}", _fmt(row["ms"]),
                              _fmt(row["fps"], 1))
        console.print(table)
    if result.get("throughput"):
        from vidinterp.bench.throughput import markdown

        console.print("end to end: vidinterp upsample vs ffmpeg minterpolate (decode + encode included)")
        console.print(markdown(result["throughput"]), markup=False)


def run_bench(
    *,
    ops: tuple[str, ...] | None,
    backends: tuple[str, ...] | None,
    resolutions: tuple[str, ...] | None,
    scales: tuple[int, ...] | None,
    dtypes: tuple[str, ...] | None,
    channels: tuple[int, ...] | None,
    max_displacement: int | None,
    device: str,
    repeats: int | None,
    quick: bool,
    backward: bool,
    skip_ops: bool,
    end_to_end: bool,
    progress: bool = True,
    settings: Settings | None = None,
) -> dict:
    """Run the selected benchmarks and return the JSON-ready result (hardware, versions, rows); `settings` say how
    the end-to-end interpolators run (their method: only that one is timed)."""
    from vidinterp.bench import OpsBenchConfig, hardware_info, run_e2e_bench, run_ops_bench, software_versions
    from vidinterp.ops import backends as backend_registry

    result: dict = {"hardware": hardware_info(), "versions": software_versions()}
    if not skip_ops:
        overrides = dict(ops=ops, backends=backends, resolutions=resolutions, scales=scales, dtypes=dtypes,
                         warp_channels=channels, correlation_channels=channels, max_displacement=max_displacement,
                         device=device, repeats=repeats, backward=backward)
        if quick:
            config = OpsBenchConfig.quick(**overrides)
        else:
            config = OpsBenchConfig(**{k: v for k, v in overrides.items() if v is not None})
        try:
            import torch

            target = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                  ("cpu" if device == "auto" else device))
            result["selected_backend"] = backend_registry.backend_for(target)
        except Exception as exc:  # noqa: BLE001
            raise UsageError(str(exc)) from None
        counter = {"n": 0}

        def on_row(row: dict) -> None:
            counter["n"] += 1
            if progress and sys.stderr.isatty():
                sys.stderr.write(f"\rvidinterp: bench: {counter['n']} measurements ({row['op']} {row['backend']} "
                                 f"{row['width']}×{row['height']} C={row['channels']} {row['dtype']})\x1b[K")
                sys.stderr.flush()

        try:
            result["ops"] = run_ops_bench(config, on_row=on_row)
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
        finally:
            if progress and sys.stderr.isatty():
                sys.stderr.write("\n")
    if end_to_end:
        e2e_repeats = repeats or (2 if quick else 5)
        methods = {} if settings is None or settings.method is None else {"methods": (settings.method,)}
        result["end_to_end"] = run_e2e_bench(device=device, repeats=e2e_repeats, settings=settings, **methods)
        result["throughput"] = _throughput(quick, repeats)
    return result


def _throughput(quick: bool, repeats: int | None) -> list[dict]:
    """The cases of benchmarks/throughput.py (same code and defaults; --quick: one clip, 720p, 3 frames, 1 run)."""
    import tempfile
    from pathlib import Path

    from vidinterp.bench.throughput import SIZES, default_clips, run_throughput
    from vidinterp.interpolators import default_method

    clips = default_clips()
    if quick:
        clips = dict(list(clips.items())[:1])
    methods = ["model", "blend"] if default_method() == "model" else ["blend"]
    with tempfile.TemporaryDirectory(prefix="vidinterp-bench-") as tmp:
        return run_throughput(clips, ["720p"] if quick else list(SIZES), 3 if quick else 48, 2,
                              1 if quick else (repeats or 3), methods, Path(tmp))


def register(app: typer.Typer) -> None:
    @app.command("bench", epilog=EPILOG)
    def bench(
        ops: Annotated[Optional[str], typer.Option(
            help="Operators to time, comma-separated: warp, correlation.")] = None,
        backends: Annotated[Optional[str], typer.Option(
            help="Backends, comma-separated: cuda, cupy, torch (default: all available; grid_sample comes with torch)."
        )] = None,
        resolutions: Annotated[Optional[str], typer.Option(help="Frame sizes: 720p, 1080p, 4k.")] = None,
        scales: Annotated[Optional[str], typer.Option(help="Pyramid levels as divisors: 1,2,4,8,16.")] = None,
        dtypes: Annotated[Optional[str], typer.Option(help="Data types: fp32, fp16, bf16, fp64.")] = None,
        channels: Annotated[Optional[str], typer.Option(
            help="Channel counts (default: 3 and the model's feature channels for the warp, its matching "
                 "channels for correlation).")] = None,
        max_displacement: Annotated[Optional[int], typer.Option(
            help="Correlation search radius in pixels (default: the model's largest).", min=0)] = None,
        device: Device = DEFAULT_DEVICE,
        method: Method = None,
        model: Model = None,
        precision: Precision = None,
        fp16: Fp16 = False,
        max_side: MaxSide = None,
        repeats: Annotated[Optional[int], typer.Option(help="Timed runs per measurement; the median is reported.",
                                                       min=1)] = None,
        quick: Annotated[bool, typer.Option(
            "--quick", help="A small sweep that finishes in well under a minute.")] = False,
        backward: Annotated[bool, typer.Option(help="Also time forward+backward.")] = True,
        skip_ops: Annotated[bool, typer.Option("--skip-ops", help="Do not time the operators.")] = False,
        end_to_end: Annotated[bool, typer.Option(
            "--end-to-end", help="Also time create_interpolator(method).interpolate at 640×480 and 1280×720, and "
            "run benchmarks/throughput.py's cases (upsample vs minterpolate at 720p and 1080p; --quick: 720p, 3 "
            "frames).")] = False,
        backend: Annotated[Optional[str], typer.Option(
            help="Backend the ops use elsewhere in this run (auto, cuda, cupy, torch), e.g. for --end-to-end.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON on stdout.")] = False,
    ) -> None:
        """Time the warp and correlation operators (and optionally a whole interpolation) on this machine."""
        from vidinterp.bench.ops import DTYPES, OPS, RESOLUTIONS
        from vidinterp.ops import BACKEND_NAMES, BackendUnavailableError, set_backend

        if backend is not None:
            try:
                set_backend(backend)
            except (BackendUnavailableError, ValueError) as exc:
                raise UsageError(str(exc)) from None
        settings = build_settings(method=method, model=model, device=device, precision=precision, fp16=fp16,
                                  max_side=max_side)
        result = run_bench(
            ops=_csv(ops, OPS, "--ops"),
            backends=_csv(backends, BACKEND_NAMES, "--backends"),
            resolutions=_csv(resolutions, tuple(RESOLUTIONS), "--resolutions"),
            scales=_ints(scales, "--scales"),
            dtypes=_csv(dtypes, tuple(DTYPES), "--dtypes"),
            channels=_ints(channels, "--channels"),
            max_displacement=max_displacement,
            device=device,
            repeats=repeats,
            quick=quick,
            backward=backward,
            skip_ops=skip_ops,
            end_to_end=end_to_end,
            settings=settings,
        )
        _print_tables(result, to_stderr=as_json)
        if as_json:
            sys.stdout.write(json.dumps(result, indent=2) + "\n")
