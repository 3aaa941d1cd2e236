"""`vidinterp eval` on unusable save folders, damaged layouts and frames smaller than SSIM's window.

A --save-dir that cannot be written is refused before the model loads; damaged or mismatched items are one
line naming the file; frames under 11×11 pixels are still scored (PSNR, MAE) with SSIM left out and a warning
that says why. Nothing is written when the run fails.
"""

from __future__ import annotations

import json

import pytest
from _cli_api import assert_fails, error_line, tree_state, unwritable_folder

import vidinterp
from synthetic import make_clip, pattern_frame
from vidinterp.io.images import write_png

pytestmark = pytest.mark.faults

UCF = ("frame_00.png", "frame_01_gt.png", "frame_02.png")


def _ucf(root, width, height, items=1):
    for item in range(items):
        folder = root / f"{item + 1}"
        folder.mkdir(parents=True)
        for i, name in enumerate(UCF):
            write_png(folder / name, pattern_frame(i, width, height))
    return root


@pytest.fixture(scope="module")
def triplets(tmp_path_factory):
    return _ucf(tmp_path_factory.mktemp("ucf"), 24, 16)


def test_save_dir_that_is_a_file(run_cli, triplets, tmp_path):
    target = tmp_path / "pictures"
    target.write_text("keep me")
    assert_fails(run_cli, 1, "eval", triplets, "--method", "blend", "--save-dir", target,
                 says=(f"--save-dir '{target}' is a file",))
    assert target.read_text() == "keep me"


def test_save_dir_under_a_file(run_cli, triplets, tmp_path):
    (tmp_path / "file").write_text("keep me")
    assert_fails(run_cli, 1, "eval", triplets, "--method", "blend", "--save-dir", tmp_path / "file" / "pictures",
                 says=("--save-dir", "is a file, not a folder"))


def test_save_dir_that_cannot_be_written_fails_before_any_scoring(run_cli, triplets, tmp_path):
    target = unwritable_folder(tmp_path) / "pictures"
    assert_fails(run_cli, 1, "eval", triplets, "--method", "blend", "--save-dir", target,
                 says=("cannot write to --save-dir",))
    assert not target.exists()


def test_a_file_where_a_pictures_folder_goes(run_cli, triplets, tmp_path):
    target = tmp_path / "pictures"
    target.mkdir()
    (target / triplets.name).write_text("keep me")  # where the set's pictures would go
    assert_fails(run_cli, 1, "eval", triplets, "--method", "blend", "--save-dir", target,
                 says=("cannot write the comparison picture",))
    assert (target / triplets.name).read_text() == "keep me"


@pytest.mark.parametrize("size", [(8, 6), (10, 10), (1, 1), (10, 40)], ids=["8×6", "10×10", "1×1", "10 wide"])
def test_frames_under_the_ssim_window_are_scored_without_ssim(run_cli, tmp_path, size):
    root = _ucf(tmp_path / "tiny", *size, items=2)
    status, out, err = run_cli("eval", root, "--method", "blend", "--json")
    assert status == 0 and "Traceback" not in err, err
    assert "2 of 2 items have frames smaller than SSIM's 11×11 window" in err
    summary = json.loads(out)["sets"][0]["summary"]
    assert summary["ssim"] is None and summary["items"] == 2 and summary["psnr"] > 0 and summary["mae"] >= 0


def test_frames_of_the_ssim_window_get_ssim(run_cli, tmp_path):
    root = _ucf(tmp_path / "eleven", 11, 11)
    status, out, err = run_cli("eval", root, "--method", "blend", "--json")
    assert status == 0 and "window" not in err
    assert 0 < json.loads(out)["sets"][0]["summary"]["ssim"] <= 1


def test_tiny_frames_through_the_api_and_their_pictures(tmp_path):
    root = _ucf(tmp_path / "tiny", 8, 6)
    report = vidinterp.evaluate_on(root, {"method": "blend", "save_dir": tmp_path / "pictures"})
    (summary,) = report.summaries().values()
    assert summary["ssim"] is None and summary["items"] == 1
    assert [item.ssim for item in report.sets[0].items] == [None]
    assert len(list((tmp_path / "pictures").rglob("*.png"))) == 1


def test_a_table_with_tiny_frames_prints_a_dash_for_ssim(run_cli, tmp_path):
    root = _ucf(tmp_path / "tiny", 8, 6)
    status, out, err = run_cli("eval", root, "--method", "blend")
    assert status == 0 and "–" in out and "SSIM" in err and "Traceback" not in err


def _damage(name, how):
    def make(root):
        path = root / "1" / name
        if how == "garbage":
            path.write_bytes(b"not a png at all")
        elif how == "cut":
            path.write_bytes(path.read_bytes()[:40])
        elif how == "empty":
            path.write_bytes(b"")
        elif how == "resized":
            write_png(path, pattern_frame(1, 20, 16))
        elif how == "folder":
            path.unlink()
            path.mkdir()
        return path

    return make


@pytest.mark.parametrize(
    "damage, says",
    [
        (_damage("frame_02.png", "garbage"), "frame_02.png"),
        (_damage("frame_00.png", "cut"), "frame_00.png"),
        (_damage("frame_01_gt.png", "empty"), "frame_01_gt.png"),
        (_damage("frame_01_gt.png", "resized"), "differ in size"),
    ],
    ids=["garbage frame", "truncated frame", "empty truth", "truth of another size"],
)
def test_a_damaged_item_is_one_line_naming_it(run_cli, tmp_path, damage, says):
    root = _ucf(tmp_path / "ucf", 24, 16)
    damage(root)
    before = tree_state(tmp_path)
    assert_fails(run_cli, 1, "eval", root, "--method", "blend", "--save-dir", tmp_path / "pictures", says=(says,))
    assert tree_state(tmp_path) == before


@pytest.mark.parametrize(
    "make, args, code, says",
    [
        (lambda root: root.mkdir(), (), 1, "no evaluation data recognised"),
        (lambda root: None, (), 1, "not found"),
        (lambda root: root.write_bytes(b"not a video"), (), 1, "is not a video ffmpeg can read"),
        (lambda root: make_clip(root, n_frames=2, width=32, height=24), ("--drop", "2"), 1, "too short for --drop 2"),
        (lambda root: make_clip(root, n_frames=4, width=32, height=24), ("--drop", "1"), 2, "--drop"),
        (lambda root: make_clip(root, n_frames=4, width=32, height=24), ("--limit", "0"), 2, "--limit"),
    ],
    ids=["empty folder", "missing path", "text named .mp4", "video too short", "drop 1", "limit 0"],
)
def test_unusable_eval_inputs_are_one_line(run_cli, tmp_path, make, args, code, says):
    target = tmp_path / "input.mp4"
    make(target)
    before = tree_state(tmp_path)
    status, out, err = run_cli("eval", target, "--method", "blend", *args)
    assert status == code and out == "", err
    assert says in error_line(err)
    assert tree_state(tmp_path) == before
