"""Run the operator benchmark (same code as `vidinterp bench`) and write its JSON to a file.

    python benchmarks/ops.py --out ops.json [--quick] [--end-to-end] [any other `vidinterp bench` option]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vidinterp.cli.bench import _csv, _ints, _print_tables, run_bench  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("ops-bench.json"), help="JSON file to write")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--end-to-end", action="store_true")
    parser.add_argument("--ops")
    parser.add_argument("--backends")
    parser.add_argument("--resolutions")
    parser.add_argument("--scales")
    parser.add_argument("--dtypes")
    parser.add_argument("--channels")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int)
    args = parser.parse_args()
    result = run_bench(
        ops=_csv(args.ops, None, "--ops"), backends=_csv(args.backends, None, "--backends"),
        resolutions=_csv(args.resolutions, None, "--resolutions"), scales=_ints(args.scales, "--scales"),
        dtypes=_csv(args.dtypes, None, "--dtypes"), channels=_ints(args.channels, "--channels"),
        max_displacement=None, device=args.device, repeats=args.repeats, quick=args.quick, backward=True,
        skip_ops=False, end_to_end=args.end_to_end,
    )
    _print_tables(result)
    # Written beside the target and renamed, so an interrupted run leaves no half-written file.
    fd, tmp = tempfile.mkstemp(dir=args.out.resolve().parent, prefix=".ops-bench-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(result, handle, indent=2)
    os.replace(tmp, args.out)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
