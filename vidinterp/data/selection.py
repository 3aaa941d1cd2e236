"""The large-motion selection set: frame drops at 2×, 4× and 8× cut from footage a recipe holds out of training.

Checkpoints and settings are chosen on this set, never on the eval sets. It is built from the recipe's `holdout`
list (see `vidinterp.data.holdout`), so what training never sees is exactly what selection scores:

    python -m vidinterp.data.selection build ../shared/data/train/videos OUT --recipe distill
    python -m vidinterp.data.selection score OUT --model default --model runs/x/snapshots/step-000400/model

Each item is a keyframe pair `factor` frames apart with every frame between as a target (t = j / factor), from
frames scaled to a `short_side` short side. Pairs are drawn with a fixed seed, so a build is reproducible. Each
item records its motion: the median DIS displacement (pixels at that size) between its keyframes; scores are
reported overall, per factor and per motion bin (`MOTION_BINS`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vidinterp.data.holdout import Holdout, parse_holdout, relative_name
from vidinterp.data.sources import discover_sources
from vidinterp.errors import UsageError, VidinterpError

FACTORS = (2, 4, 8)
#: lower edges of the motion bins (median DIS displacement in pixels at the set's size)
MOTION_BINS = (0, 4, 8, 16, 32, 64)
MANIFEST = "selection.json"
VERSION = 1


@dataclass
class SelectionItem:
    """One keyframe pair and its targets, stored as PNGs in `folder` (relative to the set's root)."""

    name: str
    source: str
    factor: int
    first: int  # source frame index of keyframe 0
    motion: float  # median DIS displacement between the keyframes, pixels
    folder: str

    def frame_paths(self, root: Path) -> tuple[Path, Path, list[Path]]:
        base = root / self.folder
        return base / "frame0.png", base / "frame1.png", [base / f"target{j}.png" for j in range(1, self.factor)]


def motion_bin(motion: float) -> str:
    """The bin label of a displacement, e.g. '8-16 px' or '≥64 px'."""
    edges = list(MOTION_BINS)
    for low, high in zip(edges, edges[1:]):
        if motion < high:
            return f"{low}-{high} px"
    return f"≥{edges[-1]} px"


def _decode_range(path: Path, first: int, last: int | None, short_side: int) -> list[np.ndarray]:
    """RGB uint8 frames first..last of a video, scaled (area) so the short side is at most `short_side`."""
    import av
    import cv2

    frames = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index < first:
                continue
            if last is not None and index > last:
                break
            image = frame.to_ndarray(format="rgb24")
            scale = short_side / min(image.shape[:2])
            if scale < 1:
                size = (round(image.shape[1] * scale / 2) * 2, round(image.shape[0] * scale / 2) * 2)
                image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            frames.append(image)
    return frames


def median_motion(frame0: np.ndarray, frame1: np.ndarray) -> float:
    """Median length of DIS (medium) flow from frame0 to frame1, pixels."""
    import cv2

    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (frame0, frame1)]
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(grey[0], grey[1], None)
    return float(np.median(np.hypot(flow[..., 0], flow[..., 1])))


def build_selection(
    data_dir: str | Path,
    holdout: Iterable[str],
    out_dir: str | Path,
    *,
    short_side: int = 540,
    factors: tuple[int, ...] = FACTORS,
    per_factor: int = 3,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> list[SelectionItem]:
    """Write the selection set for `holdout` (recipe entries) under `out_dir`; returns its items.

    For each held-out clip or range and each factor, up to `per_factor` keyframe pairs `factor` frames apart,
    drawn with `seed` among the non-overlapping pairs of the range. UsageError when an entry matches no source.
    """
    import cv2

    out = Path(out_dir)
    holdouts = [parse_holdout(spec) for spec in holdout]
    if not holdouts:
        raise UsageError("the recipe holds nothing out: add a 'holdout' list to build a selection set from.")
    sources = [s for s in discover_sources(data_dir) if not s.is_frame_folder]
    items: list[SelectionItem] = []
    for number, spec in enumerate(holdouts):
        matches = [s for s in sources if spec.covers(relative_name(s.path, data_dir))]
        if not matches:
            raise UsageError(f"holdout {spec.pattern!r} matches no video under {data_dir}")
        for source in matches:
            name = relative_name(source.path, data_dir)
            frames = _decode_range(source.path, spec.first, spec.last, short_side)
            rng = np.random.default_rng([seed, number])
            for factor in factors:
                starts = list(range(0, len(frames) - factor, factor))
                if not starts:
                    continue
                chosen = sorted(rng.choice(starts, size=min(per_factor, len(starts)), replace=False).tolist())
                for start in chosen:
                    item = _write_item(out, name, spec, frames, start, factor, cv2)
                    items.append(item)
                    if progress:
                        progress(f"{item.name}: {item.motion:.1f} px")
    document = {"version": VERSION, "short_side": short_side, "seed": seed, "factors": list(factors),
                "holdout": list(holdout), "items": [asdict(i) for i in items]}
    (out / MANIFEST).write_text(json.dumps(document, indent=1) + "\n")
    return items


def _write_item(out: Path, name: str, spec: Holdout, frames, start: int, factor: int, cv2) -> SelectionItem:
    first = spec.first + start
    label = f"{name.replace('/', '__').rsplit('.', 1)[0]}_x{factor}_{first:05d}"
    folder = out / label
    folder.mkdir(parents=True, exist_ok=True)
    group = frames[start : start + factor + 1]
    item = SelectionItem(label, name, factor, first, median_motion(group[0], group[-1]), label)
    paths = item.frame_paths(out)
    for path, image in zip((paths[0], paths[1], *paths[2]), (group[0], group[-1], *group[1:-1])):
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return item


def load_selection(root: str | Path) -> list[SelectionItem]:
    """The items of a built selection set (VidinterpError when `root` holds none)."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        raise VidinterpError(f"{root} holds no selection set ({MANIFEST}); build one first.")
    return [SelectionItem(**entry) for entry in json.loads(path.read_text())["items"]]


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise VidinterpError(f"cannot read {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def score_selection(root: str | Path, interpolator, limit: int | None = None) -> list[dict]:
    """Per target: {item, factor, t, motion, psnr, ssim, mae} of `interpolator` on the selection set."""
    from vidinterp.evaluate import metrics
    from vidinterp.execution.frames import to_levels, to_tensor, to_unit_array
    from vidinterp.execution.loop import synthesize_in_chunks

    root = Path(root)
    rows = []
    cpu = torch.device("cpu")
    for item in load_selection(root)[:limit]:
        path0, path1, targets = item.frame_paths(root)
        frame0, frame1 = (to_unit_array(_read_rgb(p)) for p in (path0, path1))
        t = torch.arange(1, item.factor, dtype=torch.float32) / item.factor
        requests = [(0, float(value)) for value in t]
        out = [image for _, chunk in synthesize_in_chunks(interpolator, [frame0], [frame1], requests, len(requests))
               for image in chunk]
        truth = to_levels([_read_rgb(p) for p in targets])
        levels = metrics.quantize(to_tensor(out, cpu))
        for j, (p, s, m) in enumerate(
            zip(metrics.psnr(levels, truth), metrics.ssim(levels, truth), metrics.mae(levels, truth))
        ):
            rows.append({"item": item.name, "factor": item.factor, "t": float(t[j]), "motion": item.motion,
                         "psnr": float(p), "ssim": float(s), "mae": float(m)})
    return rows


def summarize(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Mean PSNR/SSIM/MAE over all targets, per factor ('2x' ...) and per motion bin, with target counts."""
    groups: dict[str, list[dict]] = {"all": rows}
    for row in rows:
        groups.setdefault(f"{row['factor']}x", []).append(row)
    for row in sorted(rows, key=lambda r: r["motion"]):
        groups.setdefault(motion_bin(row["motion"]), []).append(row)
    return {
        name: {"targets": len(members), **{k: float(np.mean([r[k] for r in members])) for k in ("psnr", "ssim", "mae")}}
        for name, members in groups.items()
    }


def interpolator_for(spec: str, runtime_like: str | None = "default"):
    """An interpolator for 'classical', 'blend' or a model (shipped name or weights path). With `runtime_like`,
    a model runs with the prior settings (DIS preset and sizes) of that shipped model, as it would ship."""
    import tempfile

    from vidinterp.interpolators import create_interpolator
    from vidinterp.train.export import export_like

    if spec in ("classical", "blend"):
        return create_interpolator(spec, device="cpu")
    if runtime_like:
        with tempfile.TemporaryDirectory() as folder:
            weights = export_like(spec, runtime_like, Path(folder) / "model")
            return create_interpolator("model", model_path=weights, device="cpu", precision="fp32")
    return create_interpolator("model", model_path=spec, device="cpu", precision="fp32")


def main(argv: list[str] | None = None) -> int:
    import argparse

    from vidinterp.train.config import load_recipe

    parser = argparse.ArgumentParser(prog="python -m vidinterp.data.selection", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the selection set of a recipe's holdout list")
    build.add_argument("data_dir")
    build.add_argument("out_dir")
    build.add_argument("--recipe", default="distill")
    build.add_argument("--short-side", type=int, default=540)
    build.add_argument("--per-factor", type=int, default=3)
    build.add_argument("--seed", type=int, default=0)
    score = commands.add_parser("score", help="score methods/models on a built selection set")
    score.add_argument("root")
    score.add_argument("--model", action="append", default=[], help="classical, blend, a shipped name or a path")
    score.add_argument("--json-out", type=Path)
    score.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            holdout = load_recipe(args.recipe).get("holdout", [])
            items = build_selection(args.data_dir, holdout, args.out_dir, short_side=args.short_side,
                                    per_factor=args.per_factor, seed=args.seed,
                                    progress=lambda line: print(line, file=sys.stderr))
            print(f"{len(items)} items, {sum(i.factor - 1 for i in items)} targets in {args.out_dir}")
            return 0
        results = {}
        for spec in args.model or ["classical", "default"]:
            rows = score_selection(args.root, interpolator_for(spec), args.limit)
            results[spec] = {"summary": summarize(rows), "rows": rows}
            print(f"scored {spec}", file=sys.stderr)
        print(format_table(results))
        if args.json_out:
            args.json_out.write_text(json.dumps(results, indent=1) + "\n")
        return 0
    except VidinterpError as exc:
        print(f"vidinterp: error: {exc}", file=sys.stderr)
        return exc.exit_code


def format_table(results: dict[str, dict]) -> str:
    """Markdown: one row per group (all, factors, motion bins), PSNR / SSIM / MAE per method."""
    names = list(results)
    groups = list(next(iter(results.values()))["summary"]) if results else []
    lines = ["| group | targets | " + " | ".join(f"{n} PSNR / SSIM / MAE" for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for group in groups:
        first = results[names[0]]["summary"][group]
        cells = [f"{results[n]['summary'][group]['psnr']:.2f} / {results[n]['summary'][group]['ssim']:.4f} / "
                 f"{results[n]['summary'][group]['mae']:.2f}" for n in names]
        lines.append(f"| {group} | {first['targets']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
