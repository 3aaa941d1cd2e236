"""Numbered image sequences as input: an ffmpeg-style pattern (`frames/%06d.png`) or a folder of numbered images.

The whole sequence is listed before anything is decoded, so a gap in the numbers, two images claiming one
number or a folder holding two different sequences fails at once with one line. Images are then decoded one at
a time (memory flat in the length of the sequence); an image that cannot be read, or whose size or bit depth
differs from the first image's, stops the run with a line naming the file. The reader has the `VideoReader`
interface the pipeline and the writers use, with frame i shown at i / rate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from vidinterp.errors import VidinterpError
from vidinterp.io.frames import VideoFrame
from vidinterp.io.images import read_image
from vidinterp.io.reader import VideoInfo

#: Still formats a sequence may be made of (what PyAV's decoders read); the folder form only looks at these.
SEQUENCE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".exr"})

#: Frame rate of an image sequence when --input-fps is not given (ffmpeg's image2 default).
DEFAULT_SEQUENCE_RATE = Fraction(25)

# One printf-style frame number in a file name: %d, %4d or %04d (ffmpeg's image2 syntax); %% is a literal '%'.
_PLACEHOLDER = re.compile(r"%(0?)(\d*)d")


def _placeholders(name: str) -> list[re.Match]:
    return [match for match in _PLACEHOLDER.finditer(name.replace("%%", "\0\0"))]


def is_pattern(path: str | Path) -> bool:
    """True when the file-name part of `path` holds one frame-number placeholder such as %06d."""
    return len(_placeholders(Path(path).name)) == 1


def format_number(name_pattern: str, number: int) -> str:
    """The file name for `number` under a pattern such as 'f_%04d.png' (printf rules, %% = '%')."""
    match = _placeholders(name_pattern)[0]
    width = int(match.group(2) or 0)
    digits = f"{number:0{width}d}" if match.group(1) else f"{number:{width}d}"
    return (name_pattern[: match.start()] + digits + name_pattern[match.end() :]).replace("%%", "%")


def pattern_regex(name_pattern: str) -> re.Pattern:
    """A regex matching the file names a pattern can produce; group 1 is the frame number."""
    match = _placeholders(name_pattern)[0]
    head, tail = name_pattern[: match.start()], name_pattern[match.end() :]

    def literal(text: str) -> str:
        return re.escape(text.replace("%%", "%"))

    return re.compile(literal(head) + r" *(\d+)" + literal(tail) + r"\Z")


@dataclass(frozen=True)
class ImageSequence:
    """A listed, gap-free numbered sequence: `files[i]` has frame number `first_number + i`."""

    pattern: str  # how logs and errors name it, e.g. 'frames/%06d.png'
    files: tuple[Path, ...]
    first_number: int


def _check_numbers(pattern: str, numbered: list[tuple[int, Path]]) -> ImageSequence:
    """Sort by number and refuse duplicates and gaps (an interpolator would silently bridge a missing frame)."""
    numbered.sort(key=lambda item: item[0])
    for (a, path_a), (b, path_b) in zip(numbered, numbered[1:]):
        if a == b:
            raise VidinterpError(
                f"image sequence '{pattern}': '{path_a.name}' and '{path_b.name}' both have frame number {a}"
            )
    first, last = numbered[0][0], numbered[-1][0]
    missing = (last - first + 1) - len(numbered)
    if missing:
        have = {number for number, _ in numbered}
        gap = next(n for n in range(first, last + 1) if n not in have)
        raise VidinterpError(
            f"image sequence '{pattern}' has a gap: frame {gap} is missing ({missing} missing between {first} and "
            f"{last}); fill it or renumber the images"
        )
    return ImageSequence(pattern, tuple(path for _, path in numbered), first)


def _list_folder(folder: Path) -> list[Path]:
    try:
        return sorted(entry for entry in folder.iterdir() if entry.is_file() and not entry.name.startswith("."))
    except OSError as exc:
        raise VidinterpError(f"cannot list the folder '{folder}': {exc.strerror}") from None


def find_pattern(path: str | Path) -> ImageSequence:
    """The images matching an ffmpeg-style pattern such as 'frames/%06d.png', numbered from the lowest found."""
    path = Path(path)
    folder = path.parent
    if _placeholders(str(folder)):
        raise VidinterpError(f"'{path}': only the file name may hold the frame number (%d), not the folder")
    if not folder.is_dir():
        raise VidinterpError(f"input folder '{folder}' of the pattern '{path}' does not exist")
    regex = pattern_regex(path.name)
    numbered = []
    for entry in _list_folder(folder):
        match = regex.match(entry.name)
        # The regex is loose about padding; the name must be exactly what the pattern makes of its number.
        if match and format_number(path.name, int(match.group(1))) == entry.name:
            numbered.append((int(match.group(1)), entry))
    if not numbered:
        raise VidinterpError(f"no images match the pattern '{path}' (e.g. {folder / format_number(path.name, 1)})")
    return _check_numbers(str(path), numbered)


def find_folder(folder: str | Path) -> ImageSequence:
    """The numbered images of a folder: one name with a changing number (the last digits), one extension."""
    folder = Path(folder)
    images = [entry for entry in _list_folder(folder) if entry.suffix.lower() in SEQUENCE_EXTENSIONS]
    if not images:
        kinds = ", ".join(sorted(ext.lstrip(".") for ext in SEQUENCE_EXTENSIONS))
        raise VidinterpError(f"input folder '{folder}' holds no images ({kinds})")
    groups: dict[tuple[str, str], list[tuple[int, Path]]] = {}
    widths: dict[tuple[str, str], set[int]] = {}
    for image in images:
        match = re.fullmatch(r"(.*?)(\d+)(\D*)", image.name)
        if match is None:
            raise VidinterpError(f"'{image}' has no frame number; a folder input must hold numbered images only")
        key = (match.group(1), match.group(3))
        groups.setdefault(key, []).append((int(match.group(2)), image))
        widths.setdefault(key, set()).add(len(match.group(2)))
    names = {
        key: f"{key[0]}%0{min(widths[key])}d{key[1]}" if len(widths[key]) == 1 else f"{key[0]}%d{key[1]}"
        for key in groups
    }
    if len(groups) > 1:
        listed = ", ".join(f"{names[key]} ({len(items)})" for key, items in sorted(groups.items()))
        raise VidinterpError(
            f"input folder '{folder}' holds more than one numbered sequence: {listed}; give one as a pattern, "
            f"e.g. '{folder / min(names.values())}'"
        )
    ((key, numbered),) = groups.items()
    return _check_numbers(str(folder / names[key]), numbered)


def is_sequence_input(path: str | Path) -> bool:
    """True for a folder or a pattern that names no existing file (a file may really have '%' in its name)."""
    if str(path) == "-":
        return False
    path = Path(path)
    try:
        return path.is_dir() or (is_pattern(path) and not path.exists())
    except OSError:  # a name too long: the video reader says so in its words
        return False


def find_sequence(path: str | Path) -> ImageSequence:
    """List the sequence at `path`: a folder of numbered images or a pattern."""
    return find_folder(path) if Path(path).is_dir() else find_pattern(path)


def _depth(image: np.ndarray) -> str:
    return "16-bit" if image.dtype == np.uint16 else "8-bit"


class ImageSequenceReader:
    """Frames of an image sequence at a constant `rate`, with the parts of `VideoReader` the pipeline uses."""

    is_pipe = False
    corrupt_packets = 0
    start_time = Fraction(0)

    def __init__(self, sequence: ImageSequence, rate: Fraction = DEFAULT_SEQUENCE_RATE) -> None:
        rate = Fraction(rate)
        if rate <= 0:
            raise VidinterpError(f"the input frame rate must be positive, got {rate}")
        self.sequence = sequence
        self.path = Path(sequence.pattern)
        #: every file of the sequence (so that an output can refuse to overwrite one of them)
        self.files = sequence.files
        self._first = read_image(sequence.files[0])
        height, width = self._first.shape[:2]
        deep = self._first.dtype == np.uint16
        count = len(sequence.files)
        self.info = VideoInfo(
            width=width,
            height=height,
            frame_rate=rate,
            time_base=1 / rate,
            duration=count / rate,
            frame_count=count,
            bit_depth=16 if deep else 8,
            pix_fmt="rgb48le" if deep else "rgb24",
            container_format="image2",
            codec=sequence.files[0].suffix.lower().lstrip("."),
        )

    def require_frames(self, count: int) -> None:
        """Fail with a clear message unless the sequence has at least `count` images."""
        have = len(self.files)
        if have < count:
            raise VidinterpError(
                f"image sequence '{self.sequence.pattern}' has only {have} image{'s' if have != 1 else ''}; "
                f"at least {count} are needed"
            )

    def frames(self) -> Iterator[VideoFrame]:
        """The images in number order, image i at time i / rate; stops at the first unreadable or odd image."""
        rate = self.info.frame_rate
        for index, path in enumerate(self.files):
            image = self._first if index == 0 else read_image(path)
            if image.shape != self._first.shape:
                raise VidinterpError(
                    f"'{path}' is {image.shape[1]}×{image.shape[0]} but '{self.files[0]}' is "
                    f"{self.info.width}×{self.info.height}; all images of a sequence must have one size"
                )
            if image.dtype != self._first.dtype:
                raise VidinterpError(
                    f"'{path}' is {_depth(image)} but '{self.files[0]}' is {_depth(self._first)}; all images of a "
                    "sequence must have one bit depth"
                )
            yield VideoFrame(image=image, time=Fraction(index) / rate, index=index)

    def shortfall(self) -> str | None:
        """Never short: every listed image is read, or the run stops with an error naming the bad one."""
        return None

    def audio_streams(self) -> list:
        """An image sequence has no audio."""
        return []

    def drop_audio(self) -> None:
        """Nothing to drop: no audio is ever queued."""

    def close(self) -> None:
        """Nothing stays open between images."""

    def __enter__(self) -> ImageSequenceReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_sequence(path: str | Path, rate: Fraction = DEFAULT_SEQUENCE_RATE) -> ImageSequenceReader:
    """List and open the image sequence at `path` (folder or pattern), read at `rate` frames per second."""
    return ImageSequenceReader(find_sequence(path), rate)
