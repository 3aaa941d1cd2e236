"""`vidinterp doctor`: what this installation can use (GPU, compiled kernels, CuPy, video libraries) and why not."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from vidinterp.api.doctor import collect_report


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
