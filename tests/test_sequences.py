"""Image sequences in and out of `vidinterp upsample`, the --montage video, and every bad sequence input
(a gap, mixed sizes, an unreadable image): one line, non-zero exit, nothing written."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from synthetic import make_clip, pattern_frame
from vidinterp.io.images import read_image, write_png
from vidinterp.io.reader import open_video


def run(args, run_cli):
    return run_cli("upsample", "--method", "blend", "--scene-cut", "off", *args)


def frames_folder(folder, count=4, name="%06d.png", first=1, size=(24, 32), deep=False):
    folder.mkdir(parents=True, exist_ok=True)
    images = []
    for k in range(count):
        image = pattern_frame(2 * k, size[1], size[0])
        image = image.astype(np.uint16) * 257 + (k * 7 if deep else 0) if deep else image
        write_png(folder / (name % (first + k)), image)
        images.append(image)
    return images


def test_pattern_in_pattern_out_is_lossless_and_numbered_like_ffmpeg(tmp_path, run_cli):
    images = frames_folder(tmp_path / "frames")
    code, out, err = run(
        [tmp_path / "frames" / "%06d.png", tmp_path / "out" / "f_%04d.png", "--start-number", 0], run_cli
    )
    assert code == 0, err
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == [f"f_{k:04d}.png" for k in range(8)]  # 4 frames × 2, numbered from 0, nothing else left
    assert np.array_equal(read_image(tmp_path / "out" / "f_0002.png"), images[1])  # a source frame, exactly
    expected = (images[0].astype(np.float64) + images[1]) / 2
    assert np.abs(read_image(tmp_path / "out" / "f_0001.png") - expected).max() <= 1  # the blend, losslessly
    assert "4 images" in err and "read at 25 fps (the default" in err and "--input-fps" in err


def test_folder_in_with_input_fps_to_video(tmp_path, run_cli):
    frames_folder(tmp_path / "shots", count=3, name="shot_%03d.png", first=7)
    out = tmp_path / "out.mp4"
    code, _, err = run([tmp_path / "shots", out, "--input-fps", "24", "--factor", "2"], run_cli)
    assert code == 0, err
    assert "shot_%03d.png: 3 images" in err and "read at 24 fps (--input-fps)" in err
    with open_video(out) as reader:
        assert reader.info.frame_rate == Fraction(48) and len(list(reader.frames())) == 6


def test_sixteen_bit_sequence_stays_sixteen_bit(tmp_path, run_cli):
    images = frames_folder(tmp_path / "deep", count=2, deep=True)
    code, _, err = run([tmp_path / "deep", tmp_path / "out" / "%03d.png"], run_cli)
    assert code == 0, err
    first = read_image(tmp_path / "out" / "001.png")
    assert first.dtype == np.uint16 and np.array_equal(first, images[0])


def test_existing_output_files_are_refused_without_overwrite(tmp_path, run_cli):
    frames_folder(tmp_path / "frames", count=2)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "000003.png").write_bytes(b"keep me")
    code, _, err = run([tmp_path / "frames", tmp_path / "out" / "%06d.png"], run_cli)
    assert code == 1 and "would replace" in err and "--overwrite" in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["000003.png"]
    assert run([tmp_path / "frames", tmp_path / "out" / "%06d.png", "--overwrite"], run_cli)[0] == 0
    assert read_image(tmp_path / "out" / "000003.png").shape == (24, 32, 3)
    code, _, err = run([tmp_path / "frames", tmp_path / "frames" / "%06d.png", "--overwrite"], run_cli)
    assert code == 1 and "input image" in err


def _bad_gap(folder):
    frames_folder(folder, count=5)
    (folder / "000003.png").unlink()
    return "has a gap: frame 3 is missing"


def _bad_sizes(folder):
    frames_folder(folder, count=3)
    write_png(folder / "000002.png", pattern_frame(1, 30, 20))
    return "is 30×20 but"


def _bad_unreadable(folder):
    frames_folder(folder, count=3)
    (folder / "000003.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    return "cannot read the image"


def _bad_two_sequences(folder):
    frames_folder(folder, count=2, name="a_%02d.png")
    frames_folder(folder, count=2, name="b_%02d.png")
    return "more than one numbered sequence"


@pytest.mark.parametrize("make", [_bad_gap, _bad_sizes, _bad_unreadable, _bad_two_sequences])
@pytest.mark.parametrize("output", ["out.mp4", "seq/%04d.png"])
def test_bad_sequences_fail_in_one_line_and_write_nothing(tmp_path, run_cli, make, output):
    message = make(tmp_path / "in")
    code, stdout, err = run([tmp_path / "in", tmp_path / output], run_cli)
    assert code == 1 and stdout == "" and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("vidinterp: error: ") and message in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no output, no staging or temporary files


def test_options_that_do_not_apply_are_refused(tmp_path, run_cli):
    source = make_clip(tmp_path / "in.mp4", n_frames=3, width=32, height=24)
    code, _, err = run([source, tmp_path / "o.mp4", "--input-fps", "24"], run_cli)
    assert code == 2 and "--input-fps sets the frame rate of an image sequence" in err
    code, _, err = run([source, tmp_path / "o.mp4", "--start-number", "3"], run_cli)
    assert code == 2 and "--start-number only applies" in err
    code, _, err = run([source, tmp_path / "%04d.jpg"], run_cli)
    assert code == 2 and "lossless PNG" in err
    code, _, err = run([tmp_path / "none" / "%04d.png", tmp_path / "o.mp4"], run_cli)
    assert code == 1 and "does not exist" in err


def test_montage_puts_source_and_result_side_by_side(tmp_path, run_cli):
    images = frames_folder(tmp_path / "frames", count=3, size=(48, 64))
    code, _, err = run([tmp_path / "frames", tmp_path / "m" / "%03d.png", "--montage"], run_cli)
    assert code == 0, err
    middle = read_image(tmp_path / "m" / "002.png")  # t = 0.5 between source frames 0 and 1
    assert middle.shape == (48, 128, 3)
    rows = slice(16, 48)  # below the labels
    assert np.array_equal(middle[rows, :64], images[0][rows])  # the source as it plays: frame 0 still shown
    expected = (images[0].astype(np.float64) + images[1]) / 2
    assert np.abs(middle[rows, 64:] - expected[rows]).max() <= 1
    assert not np.array_equal(middle[:12, :64], images[0][:12])  # the label is drawn on it
