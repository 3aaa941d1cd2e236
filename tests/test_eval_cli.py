"""`vidinterp eval` end to end: JSON on stdout only, pictures, errors, and the blend baselines on real data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vidinterp.io.images import write_png


def _ucf_set(root, count=3):
    """UCF101-layout items cut from the synthetic moving pattern: frames at p, p + 1 (truth), p + 2."""
    from synthetic import pattern_frame

    for i in range(count):
        folder = root / str(i)
        folder.mkdir(parents=True)
        write_png(folder / "frame_00.png", pattern_frame(3 * i, 48, 32))
        write_png(folder / "frame_01_gt.png", pattern_frame(3 * i + 1, 48, 32))
        write_png(folder / "frame_02.png", pattern_frame(3 * i + 2, 48, 32))
    return root


def test_json_is_the_only_thing_on_stdout(tmp_path, run_cli):
    data = _ucf_set(tmp_path / "ucf101")
    code, out, err = run_cli("eval", str(data), "--method", "blend", "--json", "--limit", "2")
    assert code == 0, err
    document = json.loads(out)
    assert document["method"] == "blend" and document["model_path"] is None
    assert set(document["versions"]) >= {"vidinterp", "torch", "av", "numpy"}
    (entry,) = document["sets"]
    assert entry["name"] == "ucf101" and entry["layout"] == "ucf101" and len(entry["items"]) == 2
    assert entry["summary"]["items"] == 2
    assert entry["summary"]["psnr"] == pytest.approx(np.mean([item["psnr"] for item in entry["items"]]))
    assert 0 < entry["summary"]["ssim"] < 1 and entry["summary"]["mae"] > 0
    assert document["lpips"]["available"] == (document["lpips"]["reason"] is None)
    assert "ucf101" in err and "PSNR" in err  # with --json the table goes to stderr


def test_save_dir_writes_one_picture_per_item(tmp_path, run_cli):
    data = _ucf_set(tmp_path / "ucf101")
    code, out, err = run_cli("eval", str(data), "--method", "blend", "--save-dir", str(tmp_path / "pics"))
    assert code == 0, err
    assert "ucf101" in out and "PSNR" in out and "PSNR" not in err  # without --json the report is on stdout
    assert sorted(p.name for p in (tmp_path / "pics" / "ucf101").iterdir()) == ["0.png", "1.png", "2.png"]


def test_video_with_drop_and_limit(clip, run_cli):
    code, out, err = run_cli("eval", str(clip), "--method", "blend", "--drop", "3", "--limit", "2", "--json")
    assert code == 0, err
    (entry,) = json.loads(out)["sets"]
    assert entry["kind"] == "video" and [item["t"] for item in entry["items"]] == pytest.approx([1 / 3, 2 / 3])
    assert entry["summary"]["temporal_error"] > 0


def test_bad_inputs_give_one_line_errors(tmp_path, run_cli):
    (tmp_path / "empty").mkdir()
    code, out, err = run_cli("eval", str(tmp_path / "empty"), "--method", "blend")
    assert (
        code == 1
        and out == ""
        and err.startswith("vidinterp: error: no evaluation data recognised")
        and "Traceback" not in err
    )
    data = _ucf_set(tmp_path / "ucf101", count=1)
    code, out, err = run_cli("eval", str(data), "--method", "blend", "--model", str(tmp_path / "w.safetensors"))
    assert code == 2 and "--model only applies" in err
    code, out, err = run_cli("eval", str(data), "--method", "magic")
    assert code == 2 and "--method" in err


# The blend PSNR / MAE per set published with the evaluation data (eval/BASELINES.md).
BLEND_BASELINES = {"middlebury": (28.01, 5.74), "ucf101": (30.52, 3.67), "davis": (21.81, 12.12)}


@pytest.mark.slow
def test_blend_reproduces_the_baselines(shared_data, run_cli):
    code, out, err = run_cli("eval", str(shared_data / "eval"), "--method", "blend", "--device", "cpu", "--json")
    assert code == 0, err
    summaries = {entry["name"]: entry["summary"] for entry in json.loads(out)["sets"]}
    assert set(summaries) == set(BLEND_BASELINES)
    for name, (psnr, mae) in BLEND_BASELINES.items():
        assert summaries[name]["psnr"] == pytest.approx(psnr, abs=0.02), name
        assert summaries[name]["mae"] == pytest.approx(mae, abs=0.02), name
    assert {name: s["items"] for name, s in summaries.items()} == {"middlebury": 12, "ucf101": 21, "davis": 15}
