"""Run the operator benchmark (same code as `vidinterp bench`), print its tables and write its JSON to a file.

python benchmarks/ops.py --out ops.json [--quick] [--end-to-end] [the sweep options of `vidinterp bench`]

It takes the sweep's options (ops, backends, sizes, dtypes, channels, device, repeats, backend); the interpolator
options of `vidinterp bench --end-to-end` (--method, --model, precision, working size) are the CLI's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidinterp.api.bench import parse_ints, parse_list, run_bench  # noqa: E402
from vidinterp.bench.report import print_tables  # noqa: E402
from vidinterp.errors import VidinterpError  # noqa: E402
from vidinterp.io.atomic import write_atomically  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("ops-bench.json"), help="JSON file to write")
    parser.add_argument("--quick", action="store_true", help="a small sweep (well under a minute)")
    parser.add_argument("--end-to-end", action="store_true", help="also time whole interpolations")
    parser.add_argument("--skip-ops", action="store_true", help="do not time the operators")
    parser.add_argument("--ops", help="comma-separated: warp, correlation")
    parser.add_argument("--backends", help="comma-separated: cuda, cupy, torch")
    parser.add_argument("--resolutions", help="comma-separated: 720p, 1080p, 4k")
    parser.add_argument("--scales", help="pyramid levels as divisors: 1,2,4,8,16")
    parser.add_argument("--dtypes", help="comma-separated: fp32, fp16, bf16, fp64")
    parser.add_argument("--channels", help="channel counts, comma-separated")
    parser.add_argument("--max-displacement", type=int, help="correlation search radius in pixels")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    parser.add_argument("--repeats", type=int, help="timed runs per measurement (the median is reported)")
    parser.add_argument("--no-backward", dest="backward", action="store_false", help="time the forward pass only")
    parser.add_argument("--backend", help="op backend for the rest of the run (auto, cuda, cupy, torch)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        result = run_bench(
            ops=parse_list(args.ops, "--ops"),
            backends=parse_list(args.backends, "--backends"),
            resolutions=parse_list(args.resolutions, "--resolutions"),
            scales=parse_ints(args.scales, "--scales"),
            dtypes=parse_list(args.dtypes, "--dtypes"),
            channels=parse_ints(args.channels, "--channels"),
            max_displacement=args.max_displacement,
            device=args.device,
            repeats=args.repeats,
            quick=args.quick,
            backward=args.backward,
            skip_ops=args.skip_ops,
            end_to_end=args.end_to_end,
            backend=args.backend,
        )
    except VidinterpError as exc:
        print(f"ops.py: error: {exc}", file=sys.stderr)
        return exc.exit_code
    print_tables(result, sys.stdout)
    # Written beside the target and renamed, so an interrupted run leaves no half-written file.
    write_atomically(args.out, lambda path: path.write_text(json.dumps(result, indent=2) + "\n"))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
