"""The default model that ships inside the package: safetensors, the default config, used without a download,
and better than the blend baseline on real footage; on the real eval sets (slow) better than ffmpeg minterpolate
and than the classical baseline it starts from."""

from __future__ import annotations

import json

import pytest
from safetensors import safe_open

from vidinterp.evaluate.evaluate import EvalOptions, evaluate
from vidinterp.evaluate.layouts import discover
from vidinterp.interpolators import create_interpolator, default_method
from vidinterp.io.sample import sample_clip_path
from vidinterp.models import ModelConfig, load_model
from vidinterp.models.io import CONFIG_KEY, DEFAULT_WEIGHTS, FORMAT_KEY, FORMAT_VALUE

#: the size limit for weights shipped inside the package
MAX_WEIGHTS_BYTES = 25 * 1024 * 1024


def test_weights_ship_as_safetensors_with_the_default_config():
    assert DEFAULT_WEIGHTS.is_file(), "the package must ship its default weights"
    assert DEFAULT_WEIGHTS.stat().st_size <= MAX_WEIGHTS_BYTES
    with safe_open(str(DEFAULT_WEIGHTS), framework="pt") as f:
        metadata = f.metadata()
    assert metadata[FORMAT_KEY] == FORMAT_VALUE
    # The shipped weights are the default architecture, so ModelConfig() always describes the product model.
    assert ModelConfig.from_dict(json.loads(metadata[CONFIG_KEY])) == ModelConfig()
    assert load_model().config == ModelConfig()
    assert not [p for p in DEFAULT_WEIGHTS.parent.iterdir() if p.suffix in (".pt", ".pth", ".pkl", ".bin")]


def test_the_model_is_the_default_method():
    assert default_method() == "model"
    assert create_interpolator(default_method(), device="cpu").name == "model"


def test_shipped_model_beats_blend_on_the_sample_clip():
    """Frame-drop protocol on the bundled real clip (a panning camera): every other frame rebuilt from its
    neighbours. The clip is cut from one of the training videos, so this checks that the weights work, not how
    they generalise; the slow test below does that on held-out data."""
    path = sample_clip_path()
    (video,) = discover(path)
    options = EvalOptions(drop=2)
    (model,) = evaluate([video], create_interpolator("model", device="cpu"), options)
    (blend,) = evaluate([video], create_interpolator("blend", device="cpu"), options)
    model_psnr, blend_psnr = model.summary()["psnr"], blend.summary()["psnr"]
    assert model_psnr > blend_psnr + 1.0, (model_psnr, blend_psnr)


@pytest.mark.slow
def test_shipped_model_beats_minterpolate_and_the_classical_baseline_on_every_eval_set(shared_data):
    """The product's floor on Middlebury, UCF101 and DAVIS: PSNR above ffmpeg minterpolate (mci, BASELINES.md)
    and above the classical baseline the model starts from (DIS + blend), scored here in the same run."""
    minterpolate = {"middlebury": 33.17, "ucf101": 33.12, "davis": 24.24}
    sets = {found.name: found for found in discover(shared_data / "eval")}
    assert minterpolate.keys() <= sets.keys()
    chosen = [sets[name] for name in minterpolate]

    def scores(method: str) -> dict[str, float]:
        results = evaluate(chosen, create_interpolator(method, device="cpu"), EvalOptions())
        return {result.name: result.summary()["psnr"] for result in results}

    model, classical = scores("model"), scores("classical")
    for name, floor in minterpolate.items():
        assert model[name] > floor, (name, model[name], floor)
        assert model[name] > classical[name], (name, model[name], classical[name])
