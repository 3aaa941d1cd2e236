"""`vidinterp doctor`: what this installation can use (GPU, compiled kernels, CuPy, video libraries) and why not."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Annotated

import typer


def _ffmpeg_cli() -> str | None:
    path = shutil.which("ffmpeg")
    if path is None:
        return None
    try:
        first = subprocess.run([path, "-hide_banner", "-version"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return f"{path} (did not run)"
    return first.splitlines()[0] if first else path


def collect_report() -> dict:
    """Everything doctor prints, as a JSON-ready dict."""
    import torch

    from vidinterp import __version__
    from vidinterp.bench.environment import hardware_info, nvcc_info, software_versions
    from vidinterp.ops import backends, cuda_backend, library

    library.ensure_registered()
    prebuilt, prebuilt_why = library.prebuilt_status()
    jit_ok, jit_why = cuda_backend.toolkit_status()
    report: dict = {
        "vidinterp": __version__,
        "versions": software_versions(),
        "hardware": hardware_info(),
        "cuda_available": torch.cuda.is_available(),
        "nvcc": nvcc_info(),
        "extension": {
            "prebuilt": prebuilt,
            "prebuilt_detail": "vidinterp._C imported" if prebuilt else prebuilt_why,
            "jit_possible": jit_ok,
            "jit_detail": jit_why,
            "jit_cache": str(cuda_backend.cache_dir()),
        },
        "backends": {},
    }
    for name in backends.BACKEND_NAMES:
        ok, why = backends.backend_status(name)
        report["backends"][name] = {"available": ok, "detail": why}
    try:
        import av

        report["pyav"] = {
            "version": av.__version__,
            "libraries": {k: ".".join(map(str, v)) for k, v in av.library_versions.items()},
        }
    except Exception as exc:  # noqa: BLE001
        report["pyav"] = {"version": None, "error": str(exc)}
    report["ffmpeg_cli"] = _ffmpeg_cli()
    try:
        report["requested_backend"] = backends.requested_backend()
        device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
        # On a GPU this runs the self-test of each candidate once, so the answer is the one real runs get.
        report["selected_backend"] = {"device": str(device), "backend": backends.backend_for(device)}
    except Exception as exc:  # noqa: BLE001 - e.g. VIDINTERP_BACKEND names an unavailable backend
        report["selected_backend"] = {"error": str(exc)}
    return report


def _print_report(report: dict, file) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=file, width=None if file.isatty() else 140)
    versions, hardware = report["versions"], report["hardware"]
    table = Table(title=f"vidinterp {report['vidinterp']} doctor", show_header=True)
    table.add_column("component")
    table.add_column("status")
    table.add_column("details")

    def row(name: str, ok: bool | None, detail: str) -> None:
        mark = {True: "[green]ok[/]", False: "[red]no[/]", None: "[yellow]-[/]"}[ok]
        table.add_row(name, mark, detail)

    row("python", True, versions["python"])
    row("torch", True, f"{versions['torch']} (CUDA build: {versions['torch_cuda'] or 'no, CPU-only'})")
    row("CPU", True, f"{hardware['cpu']}, {hardware['cpu_cores']} cores, torch threads {hardware['torch_threads']}")
    gpus = ", ".join(f"{g['name']} ({g['memory_gib']} GiB, sm {g['capability']})" for g in hardware["gpus"])
    row("GPU", report["cuda_available"], gpus or "none visible to torch")
    nvcc = report["nvcc"]
    row(
        "nvcc", nvcc["path"] is not None, f"{nvcc['path']} (release {nvcc['version']})" if nvcc["path"] else "not found"
    )
    ext = report["extension"]
    row("extension (prebuilt)", ext["prebuilt"], ext["prebuilt_detail"])
    row("extension (JIT build)", ext["jit_possible"], f"{ext['jit_detail']}; cache {ext['jit_cache']}")
    row("CuPy", versions["cupy"] is not None, versions["cupy"] or "not installed (pip install cupy-cuda12x)")
    for name, status in report["backends"].items():
        row(f"backend {name}", status["available"], status["detail"])
    pyav = report["pyav"]
    if pyav.get("version"):
        libs = ", ".join(f"{k} {v}" for k, v in sorted(pyav["libraries"].items()))
        row("PyAV", True, f"{pyav['version']} ({libs})")
    else:
        row("PyAV", False, pyav.get("error", "not installed"))
    row(
        "ffmpeg CLI",
        report["ffmpeg_cli"] is not None,
        report["ffmpeg_cli"] or "not on PATH (only the pipe examples need it)",
    )
    selected = report["selected_backend"]
    if "error" in selected:
        row("selected backend", False, selected["error"])
    else:
        row(
            "selected backend",
            True,
            f"{selected['backend']} for {selected['device']} tensors (requested: {report['requested_backend']})",
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor(
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
    ) -> None:
        """Show what this installation can use: GPU, compiled or JIT-built kernels, CuPy, PyAV/ffmpeg, and why not."""
        from vidinterp.cli.stdio import is_closed
        from vidinterp.errors import VidinterpError

        if is_closed("stdout"):
            raise VidinterpError("stdout is closed, so the report has nowhere to go; run doctor with stdout open "
                                 "(e.g. vidinterp doctor > report.txt)")
        report = collect_report()
        # The report is what was asked for, so it goes to stdout (`vidinterp doctor > report.txt`); with --json
        # stdout holds the JSON alone and the table goes to stderr.
        _print_report(report, sys.stderr if as_json else sys.stdout)
        if as_json:
            sys.stdout.write(json.dumps(report, indent=2) + "\n")
