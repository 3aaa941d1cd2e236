"""Benchmarks from Python: the operator sweep, the end-to-end pair timings and the throughput cases behind
`vidinterp bench` and benchmarks/ops.py, as one JSON-ready result with the hardware and software versions.

    from vidinterp.api.bench import run_bench
    result = run_bench(ops=("warp",), resolutions=("720p",), scales=(16,), repeats=1)

`vidinterp.bench.report.print_tables(result, stream)` prints it as tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Optional

from vidinterp.errors import UsageError
from vidinterp.execution.settings import Settings, build_settings


def parse_list(text: Optional[str], option: str) -> tuple[str, ...] | None:
    """A comma-separated option value ("warp, correlation") as lower-case items; None stays None (the default)."""
    if text is None:
        return None
    items = tuple(part.strip().lower() for part in text.split(",") if part.strip())
    if not items:
        raise UsageError(f"{option} needs at least one value")
    return items


def parse_ints(text: Optional[str], option: str) -> tuple[int, ...] | None:
    """A comma-separated list of positive whole numbers ("1,2,4"); None stays None."""
    items = parse_list(text, option)
    if items is None:
        return None
    try:
        values = tuple(int(item) for item in items)
    except ValueError:
        raise UsageError(f"{option} takes whole numbers separated by commas, got '{text}'") from None
    if any(value <= 0 for value in values):
        raise UsageError(f"{option} values must be positive, got '{text}'")
    return values


def _check_choices(values: tuple[str, ...] | None, allowed: Iterable[str], option: str) -> None:
    if values is None:
        return
    allowed = tuple(allowed)
    unknown = [value for value in values if value not in allowed]
    if unknown:
        raise UsageError(f"{option}: unknown value(s) {', '.join(unknown)}; choose from {', '.join(allowed)}")


def run_bench(
    *,
    ops: tuple[str, ...] | None = None,
    backends: tuple[str, ...] | None = None,
    resolutions: tuple[str, ...] | None = None,
    scales: tuple[int, ...] | None = None,
    dtypes: tuple[str, ...] | None = None,
    channels: tuple[int, ...] | None = None,
    max_displacement: int | None = None,
    device: str = "auto",
    repeats: int | None = None,
    quick: bool = False,
    backward: bool = True,
    skip_ops: bool = False,
    end_to_end: bool = False,
    backend: str | None = None,
    on_row: Callable[[dict], None] | None = None,
    settings: Settings | None = None,
) -> dict:
    """Run the selected benchmarks and return the JSON-ready result: "hardware", "versions", and "ops" (the
    operator sweep, with "selected_backend"), "end_to_end" and "throughput" as asked for.

    None means the sweep's default (`OpsBenchConfig`; with `quick`, its small sweep). `channels` sets both the
    warp's and the correlation's channel counts. `backend` sets the op backend the rest of the process uses
    (e.g. the end-to-end timings: auto, cuda, cupy or torch). `on_row` is called with each operator row as it is
    measured (for a progress line). `settings` say how the end-to-end interpolators run (None: the defaults on
    `device`); with a method set, only that method is timed.
    """
    from vidinterp.bench import OpsBenchConfig, hardware_info, run_e2e_bench, run_ops_bench, software_versions
    from vidinterp.bench.ops import DTYPES, OPS, RESOLUTIONS
    from vidinterp.interpolators.device import resolve_device
    from vidinterp.ops import BACKEND_NAMES, BackendUnavailableError, set_backend
    from vidinterp.ops import backends as backend_registry

    for values, allowed, option in (
        (ops, OPS, "--ops"),
        (backends, BACKEND_NAMES, "--backends"),
        (resolutions, RESOLUTIONS, "--resolutions"),
        (dtypes, DTYPES, "--dtypes"),
    ):
        _check_choices(values, allowed, option)
    if backend is not None:
        try:
            set_backend(backend)
        except (BackendUnavailableError, ValueError) as exc:
            raise UsageError(str(exc)) from None
        # the option wins over VIDINTERP_BACKEND in the settings the interpolators resolve, too
        settings = (settings if settings is not None else build_settings(device=device)).replace(
            backend=backend.strip().lower())
    result: dict = {"hardware": hardware_info(), "versions": software_versions()}
    if not skip_ops:
        overrides = dict(
            ops=ops,
            backends=backends,
            resolutions=resolutions,
            scales=scales,
            dtypes=dtypes,
            warp_channels=channels,
            correlation_channels=channels,
            max_displacement=max_displacement,
            device=device,
            repeats=repeats,
            backward=backward,
        )
        if quick:
            config = OpsBenchConfig.quick(**overrides)
        else:
            config = OpsBenchConfig(**{k: v for k, v in overrides.items() if v is not None})
        try:
            result["selected_backend"] = backend_registry.backend_for(resolve_device(device))
        except Exception as exc:  # noqa: BLE001 - a bad --device or an unusable backend: one line, not a traceback
            raise UsageError(str(exc)) from None
        try:
            result["ops"] = run_ops_bench(config, on_row=on_row)
        except RuntimeError as exc:
            raise UsageError(str(exc)) from None
    if end_to_end:
        methods = {} if settings is None or settings.method is None else {"methods": (settings.method,)}
        result["end_to_end"] = run_e2e_bench(device=device, repeats=repeats or (2 if quick else 5),
                                             settings=settings, **methods)
        result["throughput"] = _throughput(quick, repeats, settings)
    return result


def _throughput(quick: bool, repeats: int | None, settings: Settings | None = None) -> list[dict]:
    """The cases of benchmarks/throughput.py (same code and defaults; quick: one clip, 720p, 3 frames, 1 run);
    with `settings`, their method and weights instead of the model and blend."""
    import tempfile
    from pathlib import Path

    from vidinterp.bench.throughput import SIZES, default_clips, run_throughput
    from vidinterp.interpolators import default_method

    clips = default_clips()
    if quick:
        clips = dict(list(clips.items())[:1])
    methods = ["model", "blend"] if default_method() == "model" else ["blend"]
    if settings is not None and settings.method is not None:
        methods = [settings.method]
    model = settings.model if settings is not None else None
    sizes = ["720p"] if quick else list(SIZES)
    frames, factor = (3 if quick else 48), 2
    with tempfile.TemporaryDirectory(prefix="vidinterp-bench-") as tmp:
        return run_throughput(clips, sizes, frames, factor, 1 if quick else (repeats or 3), methods, Path(tmp),
                              model=model)
