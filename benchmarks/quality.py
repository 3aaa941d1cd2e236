"""Quality benchmark: the eval-set baselines table (blend, ffmpeg minterpolate, the classical DIS baseline, the
shipped model and a candidate model, --new-model) in one run.

    python benchmarks/quality.py                       # all sets under ../shared/data/eval
    python benchmarks/quality.py --sets middlebury --methods blend,minterpolate --json-out q.json

    python benchmarks/quality.py --new-model runs/x/snapshots/step-000100/model.safetensors

For each eval set and method: PSNR / SSIM / MAE (and time per item) with the same metrics as `vidinterp eval`
(every method gets the two outer frames and makes the middle one, t = 0.5). Prints a Markdown table on stdout,
with the figures of the data's BASELINES.md beside ours when it is there, and writes all numbers as JSON.
A method that cannot run here (no ffmpeg, no model weights yet) is kept in the table as "n/a" with the reason.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

try:
    import vidinterp  # noqa: F401
except ImportError:  # run from a checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import typer

from vidinterp.errors import VidinterpError
from vidinterp.evaluate.evaluate import EvalOptions, evaluate
from vidinterp.evaluate.layouts import TripletSet, discover
from vidinterp.evaluate.report import versions

DEFAULT_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "eval"
METHODS = ("blend", "minterpolate", "classical", "model", "new")
#: BASELINES.md column headers that hold each method's reference figures
BASELINE_COLUMNS = {"blend": "blend", "minterpolate": "minterpolate"}


def parse_baselines(path: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """{set name: {method: (psnr, mae)}} from a BASELINES.md table whose cells read 'PSNR / MAE'."""
    if not path.is_file():
        return {}
    lines = [line.strip() for line in path.read_text().splitlines()]
    rows = [line.strip("|").split("|") for line in lines if line.startswith("|")]
    if len(rows) < 3:
        return {}
    header = [cell.strip() for cell in rows[0]]
    table: dict[str, dict[str, tuple[float, float]]] = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row]
        set_name = cells[0].split()[0] if cells and cells[0] else ""
        for method, key in BASELINE_COLUMNS.items():
            column = next((i for i, title in enumerate(header) if key in title.lower()), None)
            cell = cells[column] if column is not None and column < len(cells) else None
            match = re.match(r"([\d.]+)\s*/\s*([\d.]+)", cell) if cell is not None else None
            if match:
                table.setdefault(set_name, {})[method] = (float(match[1]), float(match[2]))
    return table


def make_interpolator(method: str, model: Path | None, precision: str | None = None, new_model: Path | None = None):
    """(interpolator, None), or (None, why it cannot run here). 'model' is the shipped model (or --model), 'new'
    the candidate weights of --new-model, run with the shipped model's prior settings as they would ship."""
    if method == "new":
        if new_model is None:
            return None, "no candidate weights (pass --new-model PATH)"
        try:
            from vidinterp.data.selection import interpolator_for

            return interpolator_for(str(new_model)), None
        except (ImportError, VidinterpError, FileNotFoundError, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}"
    try:
        if method == "minterpolate":
            from vidinterp.evaluate.minterpolate import MinterpolateInterpolator

            return MinterpolateInterpolator(), None
        from vidinterp.interpolators import create_interpolator

        if method == "model" and model is None:
            from vidinterp.interpolators import default_method

            if default_method() != "model":
                return None, "no shipped model weights yet (pass --model PATH)"
        return create_interpolator(method, model_path=model if method == "model" else None, device="cpu",
                                   precision=precision if method == "model" else None), None
    except (ImportError, VidinterpError, FileNotFoundError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def markdown_table(
    sets: list[TripletSet], results: dict, methods: list[str], baselines: dict, limit: int | None = None
) -> str:
    """The table in BASELINES.md's shape; cells 'PSNR / SSIM / MAE', with the reference PSNR / MAE in brackets."""
    header = ["set", "triplets"] + [
        f"{method} (ours [BASELINES])" if method in BASELINE_COLUMNS else method for method in methods
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for dataset in sets:
        cells = [dataset.name, str(len(dataset.items[:limit]))]
        for method in methods:
            entry = results[method].get(dataset.name)
            if entry is None or "psnr" not in entry:
                cells.append("n/a")
                continue
            cell = f"{entry['psnr']:.2f} / {entry['ssim']:.4f} / {entry['mae']:.2f}"
            reference = baselines.get(dataset.name, {}).get(method)
            if reference:
                cell += f" [{reference[0]:.2f} / {reference[1]:.2f}]"
            cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(
    data_root: Annotated[Path, typer.Option("--data-root", help="Folder holding the eval sets.")] = DEFAULT_ROOT,
    sets: Annotated[Optional[str], typer.Option(
        "--sets", help="Comma-separated set names (default: all found).", show_default=False)] = None,
    methods: Annotated[str, typer.Option(
        "--methods", help="Comma-separated: blend, minterpolate, classical, model, new.")] = ",".join(METHODS),
    new_model: Annotated[Optional[Path], typer.Option(
        "--new-model", help="Candidate weights for 'new' (e.g. a run's snapshot), beside the shipped model.",
        show_default=False)] = None,
    model: Annotated[Optional[Path], typer.Option(
        "--model", help="Model weights for 'model' (default: the shipped ones).", show_default=False)] = None,
    limit: Annotated[Optional[int], typer.Option(
        "--limit", help="At most N triplets per set.", min=1, show_default=False)] = None,
    json_out: Annotated[Path, typer.Option(
        "--json-out", help="Where to write the JSON results.")] = Path("quality_results.json"),
    precision: Annotated[Optional[str], typer.Option(
        "--precision", help="Model precision: auto (bf16 on AMX CPUs, else fp32), fp32 or bf16. bf16 cost ≤ 0.01 dB "
        "on every set with the shipped model.", show_default=False)] = None,
) -> None:
    """Run the quality benchmark and print the Markdown table."""
    chosen = [method.strip() for method in methods.split(",") if method.strip()]
    unknown = [method for method in chosen if method not in METHODS]
    if unknown:
        raise typer.BadParameter(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if not data_root.is_dir():
        raise VidinterpError(f"no eval data at {data_root}: put the data at ../shared/data beside this clone or pass "
                             "--data-root DIR")
    found = [dataset for dataset in discover(data_root) if isinstance(dataset, TripletSet)]
    if sets:
        wanted = [name.strip() for name in sets.split(",")]
        missing = [name for name in wanted if name not in {dataset.name for dataset in found}]
        if missing:
            raise typer.BadParameter(f"set(s) {', '.join(missing)} not found under {data_root}")
        found = [dataset for dataset in found if dataset.name in wanted]
    order = {"middlebury": 0, "ucf101": 1, "davis": 2}  # the order of BASELINES.md
    found.sort(key=lambda dataset: (order.get(dataset.name, 9), dataset.name))

    results: dict[str, dict] = {method: {} for method in chosen}
    notes: dict[str, str] = {}
    for method in chosen:
        interpolator, reason = make_interpolator(method, model, precision, new_model)
        if interpolator is None:
            notes[method] = reason
            print(f"{method}: not run — {reason}", file=sys.stderr)
            continue
        for dataset in found:
            start = time.perf_counter()
            (result,) = evaluate([dataset], interpolator, EvalOptions(limit=limit))
            summary = result.summary()
            results[method][dataset.name] = {**summary, "wall_seconds": time.perf_counter() - start,
                                             "items_detail": [vars(item) for item in result.items]}
            print(f"{method:>12} {dataset.name:<12} PSNR {summary['psnr']:.2f}  MAE {summary['mae']:.2f}  "
                  f"SSIM {summary['ssim']:.4f}  {summary['seconds_per_item']:.3f} s/item", file=sys.stderr)

    baselines = parse_baselines(data_root / "BASELINES.md")
    print(markdown_table(found, results, chosen, baselines, limit))
    for method, reason in notes.items():
        print(f"\n{method}: n/a — {reason}")
    document = {
        "data_root": str(data_root),
        "limit": limit,
        "model": str(model) if model else None,
        "new_model": str(new_model) if new_model else None,
        "precision": precision,
        "versions": versions(),
        "results": results,
        "not_run": notes,
        "baselines_md": {name: {method: list(v) for method, v in row.items()} for name, row in baselines.items()},
    }
    temporary = json_out.with_name(f".{json_out.name}.partial")
    temporary.write_text(json.dumps(document, indent=2) + "\n")
    os.replace(temporary, json_out)
    print(f"wrote {json_out}", file=sys.stderr)


if __name__ == "__main__":
    try:
        typer.run(main)
    except VidinterpError as exc:
        print(f"quality: error: {exc}", file=sys.stderr)
        sys.exit(exc.exit_code)
