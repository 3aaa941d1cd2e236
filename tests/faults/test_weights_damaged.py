"""Damaged and unusable weights: truncated, empty, pickled, not safetensors at all, holding NaN or infinity, with
tensors missing, extra or mis-shaped, or with a config that cannot be read. Each is refused when loaded, in one
line naming the file (from the API, `eval --model`, `train --init` and `--warm-start`); the file is left as it
was and nothing is written."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest
import torch
from _cli_api import assert_fails, assert_one_line, tiny_model_config, tiny_train_args, tree_state
from safetensors.torch import load_file, save_file

import vidinterp
from synthetic import make_clip, pattern_frame
from vidinterp.io.images import write_png
from vidinterp.models import VFIModel, save_model, tiny_config
from vidinterp.models.io import CONFIG_KEY, FORMAT_KEY, FORMAT_VALUE

pytestmark = pytest.mark.faults


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """Weights of the tiny model as `vidinterp train` writes them (safetensors with its config, JSON beside)."""
    torch.manual_seed(0)
    weights, _ = save_model(VFIModel.from_config(tiny_config()), tmp_path_factory.mktemp("good") / "model")
    return weights


def _tensors(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def _metadata(config: dict | None = None) -> dict[str, str]:
    return {FORMAT_KEY: FORMAT_VALUE, CONFIG_KEY: json.dumps(config or tiny_config().to_dict())}


def _poisoned(value: float, everywhere: bool = False):
    def make(good: Path, path: Path) -> None:
        tensors = _tensors(good)
        name = next(name for name, tensor in tensors.items() if tensor.is_floating_point() and tensor.numel() > 1)
        for key in tensors if everywhere else [name]:
            if tensors[key].is_floating_point():
                tensors[key] = tensors[key].clone()
                tensors[key].view(-1)[0] = value
        save_file(tensors, str(path), metadata=_metadata())

    return make


def _renamed(good: Path, path: Path) -> None:
    tensors = _tensors(good)
    first = next(iter(tensors))
    tensors["renamed." + first] = tensors.pop(first)
    save_file(tensors, str(path), metadata=_metadata())


def _missing(good: Path, path: Path) -> None:
    tensors = _tensors(good)
    tensors.pop(next(iter(tensors)))
    save_file(tensors, str(path), metadata=_metadata())


def _extra(good: Path, path: Path) -> None:
    save_file({**_tensors(good), "stray.weight": torch.zeros(3)}, str(path), metadata=_metadata())


def _reshaped(good: Path, path: Path) -> None:
    tensors = _tensors(good)
    name = next(name for name, tensor in tensors.items() if tensor.ndim == 4)
    tensors[name] = torch.zeros(tensors[name].shape[0] + 1, *tensors[name].shape[1:])
    save_file(tensors, str(path), metadata=_metadata())


def _other_config(good: Path, path: Path) -> None:
    """Weights of the tiny model labelled with the default model's config."""
    from vidinterp.models import ModelConfig

    save_file(_tensors(good), str(path), metadata=_metadata(ModelConfig().to_dict()))


def _config_not_json(good: Path, path: Path) -> None:
    save_file(_tensors(good), str(path), metadata={FORMAT_KEY: FORMAT_VALUE, CONFIG_KEY: "{not json"})


def _config_unknown_key(good: Path, path: Path) -> None:
    save_file(_tensors(good), str(path), metadata=_metadata({**tiny_config().to_dict(), "wings": 2}))


def _no_config(good: Path, path: Path) -> None:
    save_file(_tensors(good), str(path))


def _truncated(fraction: float):
    def make(good: Path, path: Path) -> None:
        data = good.read_bytes()
        path.write_bytes(data[: int(len(data) * fraction)])

    return make


def _bytes(data: bytes):
    return lambda good, path: path.write_bytes(data)


def _pickled(good: Path, path: Path) -> None:
    path.write_bytes(pickle.dumps({name: tensor.numpy() for name, tensor in _tensors(good).items()}))


def _torch_saved(good: Path, path: Path) -> None:
    torch.save(_tensors(good), path)


DAMAGES = {
    "NaN in one tensor": (_poisoned(float("nan")), "NaN or infinite values in 1 of"),
    "inf in one tensor": (_poisoned(float("inf")), "NaN or infinite values in 1 of"),
    "-inf in one tensor": (_poisoned(float("-inf")), "NaN or infinite values in 1 of"),
    "NaN everywhere": (_poisoned(float("nan"), everywhere=True), "NaN or infinite values in"),
    "a tensor renamed": (_renamed, "does not match its model config"),
    "a tensor missing": (_missing, "1 missing"),
    "an extra tensor": (_extra, "1 unexpected (e.g. stray.weight)"),
    "a tensor of another shape": (_reshaped, "of another shape"),
    "config of another model": (_other_config, "does not match its model config"),
    "config not JSON": (_config_not_json, "not valid JSON"),
    "config with an unknown key": (_config_unknown_key, "unknown keys wings"),
    "no config at all": (_no_config, "has no model config"),
    "cut to 90 percent": (_truncated(0.9), "not a readable safetensors weights file"),
    "cut in the header": (_truncated(0.0005), "not a safetensors weights file"),
    "empty": (_bytes(b""), "not a safetensors weights file"),
    "text": (_bytes(b"these are not weights\n" * 20), "not a safetensors weights file"),
    "pickle renamed": (_pickled, "not a safetensors weights file"),
    "torch.save renamed": (_torch_saved, "not a safetensors weights file"),
    "JSON renamed": (_bytes(json.dumps(tiny_config().to_dict()).encode()), "not a safetensors weights file"),
}


@pytest.fixture(params=list(DAMAGES))
def damaged(request, good, tmp_path) -> tuple[Path, str]:
    make, says = DAMAGES[request.param]
    path = tmp_path / "weights" / "model.safetensors"
    path.parent.mkdir()
    make(good, path)
    return path, says


def test_the_api_refuses_damaged_weights_in_one_line(damaged):
    path, says = damaged
    before = tree_state(path.parent)
    with pytest.raises(vidinterp.VidinterpError) as raised:
        vidinterp.load(path, device="cpu")
    assert_one_line(raised.value, str(path.name), says)
    assert tree_state(path.parent) == before


def test_good_weights_load_and_make_finite_frames(good):
    model = vidinterp.load(good, device="cpu")
    middle = model.interpolate(pattern_frame(0, 24, 16), pattern_frame(2, 24, 16))
    assert middle.shape == (16, 24, 3) and 0 < middle.mean() < 255


@pytest.fixture(scope="module")
def triplets(tmp_path_factory):
    root = tmp_path_factory.mktemp("ucf")
    (root / "1").mkdir()
    for i, name in enumerate(("frame_00.png", "frame_01_gt.png", "frame_02.png")):
        write_png(root / "1" / name, pattern_frame(i, 24, 16))
    return root


@pytest.mark.parametrize("which", ["NaN in one tensor", "cut to 90 percent", "pickle renamed", "a tensor missing"])
def test_eval_refuses_damaged_weights_before_scoring(run_cli, good, tmp_path, triplets, which):
    make, says = DAMAGES[which]
    path = tmp_path / "model.safetensors"
    make(good, path)
    pictures = tmp_path / "pictures"
    assert_fails(run_cli, 1, "eval", triplets, "--model", path, "--device", "cpu", "--save-dir", pictures,
                 says=(str(path), says))
    assert not pictures.exists()


def test_weights_that_are_a_folder_are_refused(run_cli, tmp_path, triplets):
    folder = tmp_path / "model.safetensors"
    folder.mkdir()
    assert_fails(run_cli, 1, "eval", triplets, "--model", folder, "--device", "cpu", says=("is a folder",))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    (root / "videos").mkdir()
    make_clip(root / "videos" / "a.mp4", n_frames=8, width=48, height=40)
    return root


@pytest.mark.parametrize("option", ["--init", "--warm-start"])
@pytest.mark.parametrize("which", ["NaN in one tensor", "pickle renamed", "cut to 90 percent"])
def test_training_refuses_damaged_starting_weights_and_leaves_nothing(run_cli, good, data, tmp_path, option, which):
    make, says = DAMAGES[which]
    path = tmp_path / "start.safetensors"
    make(good, path)
    before = tree_state(data)
    run = tmp_path / "run"
    assert_fails(run_cli, 1, "train", data / "videos", "--out", run, *tiny_train_args(tiny_model_config(tmp_path)),
                 option, path, says=(str(path.name), says.replace("not a safetensors", "safetensors")))
    assert not run.exists() and tree_state(data) == before  # refused before any caching
