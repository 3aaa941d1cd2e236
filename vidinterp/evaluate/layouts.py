"""Find evaluation data under a path: triplet datasets in the layouts people download, or videos.

Recognised triplet layouts (each item = two outer frames and the true middle frame, t = 0.5):

- Middlebury ("other" set): `<root>/other-data/<seq>/frame10.png, frame11.png` and
  `<root>/other-gt-interp/<seq>/frame10i11.png`.
- Vimeo-90K triplet: `<root>/<seq>/im1.png, im2.png, im3.png` (im2 is the truth), or the official
  `<root>/sequences/<a>/<b>/im*.png` with `tri_testlist.txt` (only the listed test items are used when it exists).
- UCF101 in the DVF layout: `<root>/<id>/frame_00.png, frame_01_gt.png, frame_02.png`.

Anything else that is a video file (or a folder holding video files) is evaluated by the frame-drop protocol.
PATH may be a layout root, a folder holding several of them (searched a few levels deep), or a single item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from vidinterp.data.sources import VIDEO_EXTENSIONS, natural_key
from vidinterp.errors import VidinterpError

#: how many folder levels below PATH are searched for layout roots
SEARCH_DEPTH = 4

VIMEO_NAMES = ("im1.png", "im3.png", "im2.png")  # frame0, frame1, truth
UCF_NAMES = ("frame_00.png", "frame_02.png", "frame_01_gt.png")

EXPECTED_LAYOUTS = (
    "Middlebury (other-data/<seq>/frame10.png, frame11.png + other-gt-interp/<seq>/frame10i11.png), "
    "Vimeo-90K triplet (<seq>/im1.png, im2.png, im3.png, or sequences/<a>/<b>/ with tri_testlist.txt), "
    "UCF101 DVF (<id>/frame_00.png, frame_01_gt.png, frame_02.png), "
    f"or video files ({', '.join(sorted(VIDEO_EXTENSIONS))})"
)


@dataclass(frozen=True)
class TripletFiles:
    """One evaluation item: interpolate between `frame0` and `frame1` at t = 0.5 and compare with `truth`."""

    name: str
    frame0: Path
    frame1: Path
    truth: Path


@dataclass(frozen=True)
class TripletSet:
    """A triplet dataset found on disk; `name` is what tables show (the folder name, or its path below PATH)."""

    name: str
    layout: str  # "middlebury", "vimeo", "vimeo-official", "ucf101"
    root: Path
    items: tuple[TripletFiles, ...]
    kind: str = field(default="triplets", init=False)


@dataclass(frozen=True)
class VideoItem:
    """One video evaluated by dropping frames and interpolating them back."""

    name: str
    path: Path
    kind: str = field(default="video", init=False)
    layout: str = field(default="video", init=False)


EvalSet = TripletSet | VideoItem


def _is_video_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def _has_all(folder: Path, names: tuple[str, ...]) -> bool:
    return all((folder / name).is_file() for name in names)


def _subfolders(folder: Path) -> list[Path]:
    try:
        entries = [entry for entry in folder.iterdir() if entry.is_dir() and not entry.name.startswith(".")]
    except OSError:
        return []
    return sorted(entries, key=lambda entry: natural_key(entry.name))


def _middlebury_items(root: Path) -> list[TripletFiles]:
    items = []
    for truth_dir in _subfolders(root / "other-gt-interp"):
        inputs = root / "other-data" / truth_dir.name
        truth = truth_dir / "frame10i11.png"
        if truth.is_file() and _has_all(inputs, ("frame10.png", "frame11.png")):
            items.append(TripletFiles(truth_dir.name, inputs / "frame10.png", inputs / "frame11.png", truth))
    return items


def _triplet(folder: Path, name: str, names: tuple[str, str, str]) -> TripletFiles:
    return TripletFiles(name, folder / names[0], folder / names[1], folder / names[2])


def _flat_items(root: Path, names: tuple[str, str, str]) -> list[TripletFiles]:
    return [_triplet(folder, folder.name, names) for folder in _subfolders(root) if _has_all(folder, names)]


def _vimeo_official_items(root: Path) -> list[TripletFiles]:
    sequences = root / "sequences"
    test_list = root / "tri_testlist.txt"
    if test_list.is_file():
        names = [line.strip().strip("/") for line in test_list.read_text().splitlines() if line.strip()]
    else:
        names = [f"{a.name}/{b.name}" for a in _subfolders(sequences) for b in _subfolders(a)]
    return [_triplet(sequences / name, name, VIMEO_NAMES) for name in names if _has_all(sequences / name, VIMEO_NAMES)]


def _detect_root(folder: Path) -> tuple[str, list[TripletFiles]] | None:
    """(layout, items) if `folder` is the root of a triplet layout, else None."""
    if (folder / "other-data").is_dir() and (folder / "other-gt-interp").is_dir():
        return "middlebury", _middlebury_items(folder)
    if (folder / "sequences").is_dir() and ((folder / "tri_testlist.txt").is_file() or _vimeo_official_items(folder)):
        return "vimeo-official", _vimeo_official_items(folder)
    for layout, names in (("vimeo", VIMEO_NAMES), ("ucf101", UCF_NAMES)):
        items = _flat_items(folder, names)
        if items:
            return layout, items
    return None


def _single_item(folder: Path) -> tuple[str, list[TripletFiles]] | None:
    """PATH pointing straight at one triplet folder (or at a Middlebury half) still works."""
    for layout, names in (("vimeo", VIMEO_NAMES), ("ucf101", UCF_NAMES)):
        if _has_all(folder, names):
            return layout, [_triplet(folder, folder.name, names)]
    if folder.name in ("other-data", "other-gt-interp") and (found := _detect_root(folder.parent)):
        return found
    return None


def discover(path: str | Path) -> list[EvalSet]:
    """Every triplet dataset and video at or below `path`, in a stable order.

    Raises VidinterpError naming the expected layouts when nothing is recognised.
    """
    path = Path(path)
    if not path.exists():
        raise VidinterpError(f"evaluation data not found: {path}")
    if path.is_file():
        if not _is_video_file(path):
            raise VidinterpError(
                f"'{path}' is neither a video file nor a folder of evaluation data; expected {EXPECTED_LAYOUTS}"
            )
        return [VideoItem(path.stem, path)]

    found: list[EvalSet] = []
    single = _single_item(path)
    if single:
        layout, items = single
        root = path.parent if path.name in ("other-data", "other-gt-interp") else path
        return [TripletSet(root.name, layout, root, tuple(items))]

    def visit(folder: Path, depth: int) -> None:
        detected = _detect_root(folder)
        if detected:
            layout, items = detected
            name = folder.name if folder == path else folder.relative_to(path).as_posix()
            if items:
                found.append(TripletSet(name, layout, folder, tuple(items)))
            return
        try:
            files = sorted(
                (entry for entry in folder.iterdir() if _is_video_file(entry)), key=lambda e: natural_key(e.name)
            )
        except OSError:
            files = []
        for video in files:
            name = video.stem if folder == path else video.relative_to(path).with_suffix("").as_posix()
            found.append(VideoItem(name, video))
        if depth < SEARCH_DEPTH:
            for sub in _subfolders(folder):
                visit(sub, depth + 1)

    visit(path, 0)
    if not found:
        raise VidinterpError(f"no evaluation data recognised in '{path}'; expected {EXPECTED_LAYOUTS}")
    return found
