"""The benchmark report for people: tables of a `vidinterp.api.bench.run_bench` result (the operators, the
end-to-end pair timings, the throughput cases), shared by `vidinterp bench` and benchmarks/ops.py."""

from __future__ import annotations

from typing import TextIO

#: the operator table's columns; the text ones are left-aligned, the figures right-aligned
OPS_COLUMNS = (
    "op",
    "backend",
    "shape",
    "C",
    "dtype",
    "fwd ms",
    "fwd+bwd ms",
    "GB/s",
    "% copy",
    "TFLOP/s",
    "× baseline",
)
TEXT_COLUMNS = ("op", "backend", "shape", "dtype")


def fmt(value, digits: int = 2) -> str:
    """A table cell: floats to `digits` decimals, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_tables(result: dict, stream: TextIO) -> None:
    """Print the tables of every part `result` holds on `stream` (the CLI's stdout, or stderr when stdout carries
    the JSON)."""
    from rich.console import Console

    # Wide enough for the full table when the stream is a file or pipe (rich would assume 80 columns).
    console = Console(file=stream, width=None if stream.isatty() else 160)
    if result.get("ops"):
        console.print(ops_table(result["ops"]))
    if result.get("end_to_end") is not None:
        console.print(end_to_end_table(result["end_to_end"]))
    if result.get("throughput"):
        from vidinterp.bench.throughput import markdown

        console.print("end to end: vidinterp upsample vs ffmpeg minterpolate (decode + encode included)")
        console.print(markdown(result["throughput"]), markup=False)


def ops_table(ops: dict):
    """The operator sweep (`run_ops_bench`'s result): one row per measurement, skip or error."""
    from rich.table import Table

    table = Table(title=f"operators on {ops['device']} (copy bandwidth {ops['copy_gbps']:.1f} GB/s)")
    for name in OPS_COLUMNS:
        table.add_column(name, justify="left" if name in TEXT_COLUMNS else "right")
    for row in ops["rows"]:
        shape = f"{row['resolution']} {row['scale']} ({row['width']}×{row['height']})"
        op = f"{row['op']} ({row['flow']} flow)" if row.get("flow") else row["op"]
        first = (op, row["backend"], shape, str(row["channels"]), row["dtype"])
        if "skipped" in row or "error" in row:
            table.add_row(*first, f"[yellow]{row.get('skipped') or row.get('error')}[/]")
            continue
        speedup = row.get("speedup_vs_baseline")
        table.add_row(
            *first,
            fmt(row["forward_ms"]),
            fmt(row["forward_backward_ms"]),
            fmt(row["forward_gbps"]),
            fmt(100 * row["forward_copy_share"], 1),
            fmt(row["forward_tflops"], 3),
            "-" if speedup is None else f"{speedup:.2f} vs {row['baseline']}",
        )
    return table


def end_to_end_table(rows: list[dict]):
    """The end-to-end pair timings (`run_e2e_bench`'s rows)."""
    from rich.table import Table

    table = Table(title="end to end: interpolate(f0, f1, 0.5), one pair")
    for name in ("method", "device", "size", "ms", "frames/s"):
        table.add_column(name)
    for row in rows:
        if "skipped" in row:
            table.add_row(row["method"], "-", "-", f"[yellow]{row['skipped']}[/]", "")
            continue
        size = f"{row['width']}×{row['height']}"
        if "error" in row:
            table.add_row(row["method"], row["device"], size, f"[red]{row['error']}[/]", "")
        else:
            table.add_row(row["method"], row["device"], size, fmt(row["ms"]), fmt(row["fps"], 1))
    return table
