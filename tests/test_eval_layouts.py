"""Dataset detection on tiny synthetic folders of each layout, and the PNG reader/writer they rely on."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vidinterp.errors import VidinterpError
from vidinterp.evaluate.layouts import TripletSet, VideoItem, discover
from vidinterp.io.images import encode_png, read_image, write_png


def _png(path: Path, value: int = 0, size=(12, 16)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, np.full((*size, 3), value, np.uint8))


def make_middlebury(root: Path, names=("Beanbags", "Venus")) -> Path:
    for name in names:
        _png(root / "other-data" / name / "frame10.png", 10)
        _png(root / "other-data" / name / "frame11.png", 30)
        _png(root / "other-gt-interp" / name / "frame10i11.png", 20)
    _png(root / "other-data" / "NoTruth" / "frame10.png")  # inputs without truth are not items
    _png(root / "other-data" / "NoTruth" / "frame11.png")
    return root


def make_vimeo(root: Path, names=("seq2", "seq10", "seq1")) -> Path:
    for name in names:
        for i, value in ((1, 10), (2, 20), (3, 30)):
            _png(root / name / f"im{i}.png", value)
    return root


def make_ucf(root: Path, names=("1", "3")) -> Path:
    for name in names:
        _png(root / name / "frame_00.png", 10)
        _png(root / name / "frame_01_gt.png", 20)
        _png(root / name / "frame_02.png", 30)
    return root


def test_middlebury(tmp_path):
    (dataset,) = discover(make_middlebury(tmp_path / "middlebury"))
    assert isinstance(dataset, TripletSet) and dataset.layout == "middlebury" and dataset.name == "middlebury"
    assert [item.name for item in dataset.items] == ["Beanbags", "Venus"]
    item = dataset.items[0]
    assert (item.frame0.name, item.frame1.name, item.truth.name) == ("frame10.png", "frame11.png", "frame10i11.png")
    # Pointing at one half of the layout finds the whole of it.
    (again,) = discover(tmp_path / "middlebury" / "other-gt-interp")
    assert again.layout == "middlebury" and len(again.items) == 2


def test_vimeo_flat_in_natural_order_with_im2_as_truth(tmp_path):
    (dataset,) = discover(make_vimeo(tmp_path / "davis"))
    assert dataset.layout == "vimeo"
    assert [item.name for item in dataset.items] == ["seq1", "seq2", "seq10"]
    item = dataset.items[0]
    assert (item.frame0.name, item.frame1.name, item.truth.name) == ("im1.png", "im3.png", "im2.png")


def test_vimeo_official_uses_the_test_list(tmp_path):
    root = tmp_path / "vimeo_triplet"
    make_vimeo(root / "sequences" / "00001", ("0001", "0002"))
    make_vimeo(root / "sequences" / "00002", ("0005",))
    (root / "tri_testlist.txt").write_text("00001/0002\n00002/0005\n\n")
    (dataset,) = discover(root)
    assert dataset.layout == "vimeo-official"
    assert [item.name for item in dataset.items] == ["00001/0002", "00002/0005"]
    (root / "tri_testlist.txt").unlink()  # without the list: every sequence
    assert len(discover(root)[0].items) == 3


def test_ucf101(tmp_path):
    (dataset,) = discover(make_ucf(tmp_path / "ucf101"))
    assert dataset.layout == "ucf101" and [item.name for item in dataset.items] == ["1", "3"]
    assert dataset.items[0].truth.name == "frame_01_gt.png"


def test_single_item_folder(tmp_path):
    make_ucf(tmp_path / "ucf101", ("7",))
    (dataset,) = discover(tmp_path / "ucf101" / "7")
    assert dataset.layout == "ucf101" and len(dataset.items) == 1


def test_parent_folder_finds_every_layout_and_videos(tmp_path, clip):
    root = tmp_path / "eval"
    make_middlebury(root / "middlebury")
    make_ucf(root / "ucf101")
    make_vimeo(root / "nested" / "davis")
    videos = root / "videos"
    videos.mkdir()
    clip.rename(videos / "walk.mp4")
    found = discover(root)
    names = {item.name: item for item in found}
    assert set(names) == {"middlebury", "ucf101", "nested/davis", "videos/walk"}
    assert isinstance(names["videos/walk"], VideoItem)
    assert [type(item) for item in discover(videos)] == [VideoItem]


def test_video_file(clip):
    (item,) = discover(clip)
    assert isinstance(item, VideoItem) and item.path == clip


def test_unknown_layout_names_the_expected_ones(tmp_path):
    folder = tmp_path / "random"
    _png(folder / "a" / "one.png")
    _png(folder / "a" / "two.png")
    with pytest.raises(VidinterpError, match="Middlebury.*Vimeo-90K.*UCF101"):
        discover(folder)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(VidinterpError, match="neither a video"):
        discover(tmp_path / "notes.txt")
    with pytest.raises(VidinterpError, match="not found"):
        discover(tmp_path / "missing")


def _encode_as(image: np.ndarray, pix_fmt: str, source_format: str) -> bytes:
    """PNG bytes in another pixel format than RGB (grey, RGBA), written with PyAV's encoder."""
    codec = av.CodecContext.create("png", "w")
    codec.height, codec.width = image.shape[:2]
    codec.pix_fmt = pix_fmt
    frame = av.VideoFrame.from_ndarray(image, format=source_format)
    return b"".join(bytes(p) for p in list(codec.encode(frame)) + list(codec.encode(None)))


def test_image_round_trip_and_formats(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)
    write_png(tmp_path / "rgb 100%.png", rgb)  # '%' must not be taken for a sequence pattern
    assert np.array_equal(read_image(tmp_path / "rgb 100%.png"), rgb)

    deep = rng.integers(0, 65536, (9, 13, 3), dtype=np.uint16)
    (tmp_path / "deep.png").write_bytes(encode_png(deep))
    assert read_image(tmp_path / "deep.png").dtype == np.uint16
    assert np.array_equal(read_image(tmp_path / "deep.png"), deep)

    grey = rng.integers(0, 256, (9, 13), dtype=np.uint8)
    (tmp_path / "grey.png").write_bytes(_encode_as(grey, "gray", "gray"))
    assert np.array_equal(read_image(tmp_path / "grey.png"), np.repeat(grey[..., None], 3, axis=2))

    rgba = rng.integers(0, 256, (9, 13, 4), dtype=np.uint8)
    (tmp_path / "alpha.png").write_bytes(_encode_as(rgba, "rgba", "rgba"))
    assert np.array_equal(read_image(tmp_path / "alpha.png"), rgba[..., :3])  # alpha dropped, colour kept

    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(VidinterpError, match="cannot read"):
        read_image(tmp_path / "broken.png")
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]  # atomic writes leave no temp files
