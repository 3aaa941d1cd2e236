"""The classical motion prior (DIS) and the contracts of the model built on it: an untrained prior model is
exactly the classical baseline, a precomputed prior is used as given, old model files keep their meaning."""

from __future__ import annotations

import dataclasses
import json
import threading

import numpy as np
import pytest
import torch
from tensor_frames import interpolate, prepare, synthesize

from synthetic import pattern_frame
from vidinterp.errors import UsageError
from vidinterp.execution.prior import DIS_PRESETS, DisFlow, check_preset, grey_images, grey_uint8
from vidinterp.interpolators import create_interpolator
from vidinterp.interpolators.classical import ClassicalInterpolator
from vidinterp.interpolators.model import ModelInterpolator
from vidinterp.models import ModelConfig, VFIModel, load_model, save_model, tiny_config
from vidinterp.models import io as model_io
from vidinterp.train.train import teacher_prior

pytestmark = pytest.mark.cpu_only("OpenCV DIS and the classical interpolator")


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255


def _shifted_pair(width: int = 128, height: int = 96, speed=(3.0, -2.0)):
    """Frame 0 and frame 1 of the synthetic pattern (background moves `speed` px per frame, the square twice)."""
    return (_tensor(pattern_frame(0.0, width, height, speed)), _tensor(pattern_frame(1.0, width, height, speed)))


def _background(flow: torch.Tensor) -> torch.Tensor:
    """The flow's median over a band away from the borders and the moving square (background motion)."""
    return flow[0, :, 8:-8, -40:-8].flatten(1).median(dim=1).values


# -- DisFlow ------------------------------------------------------------------------------------------------
def test_dis_flow_recovers_a_known_motion_in_both_directions_with_the_backward_sign():
    frame0, frame1 = _shifted_pair(speed=(3.0, -2.0))
    flow_01, flow_10 = DisFlow("medium")(frame0, frame1)
    assert flow_01.shape == flow_10.shape == (1, 2, 96, 128) and flow_01.dtype == torch.float32
    # frame1 is frame0 moved by (+3, -2): frame0[p] = frame1[p + (3, -2)], so flow_01 ≈ (3, -2), flow_10 ≈ (-3, 2)
    torch.testing.assert_close(_background(flow_01), torch.tensor([3.0, -2.0]), atol=0.3, rtol=0)
    torch.testing.assert_close(_background(flow_10), torch.tensor([-3.0, 2.0]), atol=0.3, rtol=0)


@pytest.mark.parametrize("threads", [1, 3])
def test_dis_flow_batches_pairs_independently_of_threads(threads):
    pairs = [_shifted_pair(speed=s) for s in ((2.0, 0.0), (0.0, 2.0), (-1.0, 1.0))]
    frame0, frame1 = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
    flow_01, flow_10 = DisFlow("fast", threads=threads)(frame0, frame1)
    for i, pair in enumerate(pairs):
        single_01, single_10 = DisFlow("fast", threads=1)(*pair)
        torch.testing.assert_close(flow_01[i : i + 1], single_01)
        torch.testing.assert_close(flow_10[i : i + 1], single_10)


def test_dis_flow_on_shrunk_frames_is_rescaled_to_full_resolution_pixels():
    frame0, frame1 = _shifted_pair(width=256, height=192, speed=(6.0, 4.0))
    flow = DisFlow("medium", max_side=128)
    assert flow.scale_for(192, 256) == 2 and flow.scale_for(100, 128) == 1 and DisFlow().scale_for(4000, 4000) == 1
    flow_01, _ = flow(frame0, frame1)
    assert flow_01.shape == (1, 2, 192, 256)
    torch.testing.assert_close(_background(flow_01), torch.tensor([6.0, 4.0]), atol=0.6, rtol=0)


def test_dis_flow_of_frames_too_small_for_dis_is_zero_and_bad_input_is_refused():
    tiny = torch.rand(2, 3, 8, 8)
    flow_01, flow_10 = DisFlow()(tiny, tiny.flip(-1))
    assert not flow_01.any() and not flow_10.any() and flow_01.shape == (2, 2, 8, 8)
    with pytest.raises(ValueError, match="N×3×H×W"):
        DisFlow()(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 20))
    with pytest.raises(UsageError, match="ultrafast, fast, medium"):
        check_preset("slow")


def test_grey_matches_opencv_luma_from_tensors_and_from_arrays():
    import cv2

    image = pattern_frame(0.3, 64, 48)
    expected = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.int16)
    frames = _tensor(image).repeat(2, 1, 1, 1)
    for grey in (grey_uint8(frames), grey_images(list(frames.permute(0, 2, 3, 1).contiguous().numpy()))):
        assert grey.shape == (2, 48, 64) and grey.dtype == np.uint8
        assert np.abs(grey.astype(np.int16) - expected).max() <= 1


def test_dis_flow_depends_only_on_the_frames():
    """OpenCV's DIS instances give a different flow on their first call than on later ones for small frames;
    DisFlow must not carry that history from one pair (or thread) to the next."""
    g = torch.Generator().manual_seed(0)
    frame0, frame1 = torch.rand(2, 3, 24, 40, generator=g), torch.rand(2, 3, 24, 40, generator=g)
    flow = DisFlow("medium")
    first = flow(frame0, frame1)
    for _ in range(3):
        again = flow(frame0, frame1)
        torch.testing.assert_close(again[0], first[0], atol=0, rtol=0)
        torch.testing.assert_close(again[1], first[1], atol=0, rtol=0)


def test_dis_settings_follow_the_preset_and_small_frames_run_at_full_resolution():
    import cv2

    for name, code in (("ultrafast", 0), ("fast", 1), ("medium", 2)):  # OpenCV's presets, spelt out exactly
        theirs = cv2.DISOpticalFlow_create(code)
        ours = DIS_PRESETS[name]
        assert (theirs.getFinestScale(), theirs.getPatchStride(), theirs.getGradientDescentIterations(),
                theirs.getVariationalRefinementIterations()) == dataclasses.astuple(ours)
    flow = DisFlow("balanced", full_resolution_pixels=320 * 240)
    assert flow.settings_for(240, 320) == dataclasses.replace(DIS_PRESETS["balanced"], finest_scale=0)
    assert flow.settings_for(241, 320) == DIS_PRESETS["balanced"] == flow.settings_for(360, 640)
    assert DisFlow("fast").settings_for(8, 8) == DIS_PRESETS["fast"]  # 0: never
    # and the settings are what runs: a small pair through DisFlow equals OpenCV configured by hand
    frame0, frame1 = _shifted_pair()
    dis = cv2.DISOpticalFlow_create(2)
    for setter, value in (("FinestScale", 0), ("PatchStride", 4), ("GradientDescentIterations", 12),
                          ("VariationalRefinementIterations", 2)):
        getattr(dis, "set" + setter)(value)
    expected = dis.calc(grey_uint8(frame0)[0], grey_uint8(frame1)[0], None)
    got = flow(frame0, frame1)[0][0].permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(got, expected)


# -- the model on the prior ---------------------------------------------------------------------------------
def test_an_untrained_prior_model_is_exactly_the_classical_baseline():
    torch.manual_seed(0)
    # The classical baseline is DIS "medium" at every size; a model with that prior starts as exactly it.
    config = dataclasses.replace(tiny_config("dis"), prior_preset="medium", prior_full_resolution_pixels=0)
    model = VFIModel.from_config(config).eval()
    frame0, frame1 = _shifted_pair()
    t = torch.tensor([0.25, 0.5, 0.8])
    ours = synthesize(ModelInterpolator(model=model), prepare(ModelInterpolator(model=model),
        frame0, frame1), torch.zeros(3, dtype=torch.long), t)
    classical = ClassicalInterpolator()
    baseline = synthesize(classical, prepare(classical, frame0, frame1), torch.zeros(3, dtype=torch.long), t)
    torch.testing.assert_close(ours, baseline, atol=1e-5, rtol=0)
    # and the baseline does interpolate: it is far better than a cross-fade on this motion
    truth = _tensor(pattern_frame(0.5, 128, 96, (3.0, -2.0)))
    blend = 0.5 * (frame0 + frame1)
    assert (baseline[1:2] - truth).abs().mean() < 0.5 * (blend - truth).abs().mean()


def test_the_model_takes_its_prior_as_tensors_and_holds_no_opencv():
    """The model is pure torch (like torchvision's RAFT, it is handed its inputs): a DIS model asks for the prior
    flows rather than running OpenCV itself, and nothing under vidinterp/models imports OpenCV."""
    import ast
    from pathlib import Path

    import vidinterp.models

    model = VFIModel.from_config(tiny_config("dis")).eval()
    assert model.interpolation.uses_prior
    frame0, frame1 = _shifted_pair(64, 48)
    with pytest.raises(ValueError, match="pass prior="):
        model.estimate_motion(frame0, frame1)
    for path in Path(vidinterp.models.__file__).parent.glob("*.py"):
        names = {alias.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Import)
                 for alias in node.names}
        names |= {node.module or "" for node in ast.walk(ast.parse(path.read_text()))
                  if isinstance(node, ast.ImportFrom)}
        assert not {name for name in names if name.startswith(("cv2", "vidinterp.execution"))}, path


def test_a_precomputed_prior_is_used_as_given():
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config("dis")).eval()
    frame0, frame1 = _shifted_pair(64, 48)
    prior = (torch.full((1, 2, 48, 64), 1.5), torch.full((1, 2, 48, 64), -1.5))
    with torch.no_grad():
        state = model.estimate_motion(frame0, frame1, prior=prior)
    # the refiner's gate starts at zero, so an untrained model returns the prior unchanged
    torch.testing.assert_close(state.flow_01, prior[0])
    torch.testing.assert_close(state.flow_10, prior[1])


def test_overlapped_prior_gives_the_inline_result_and_runs_dis_off_the_calling_thread(monkeypatch):
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config("dis")).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # a "trained" model: the refiner acts on the prior
    pairs = [_shifted_pair(64, 48, speed=(s, 1.0)) for s in (1.0, 2.0, -2.0, 0.5, 3.0)]
    frame0, frame1 = torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])
    inline = interpolate(ModelInterpolator(model=model, overlap_prior=False), frame0, frame1, 0.4)
    threads = []
    original = DisFlow.from_grey
    monkeypatch.setattr(DisFlow, "from_grey",
                        lambda self, *a: threads.append(threading.current_thread().name) or original(self, *a))
    overlapped = ModelInterpolator(model=model, overlap_prior=True)
    assert ModelInterpolator(model=model).overlap_prior is False  # on the CPU the prior runs inline by default
    result = interpolate(overlapped, frame0, frame1, 0.4)
    torch.testing.assert_close(result, inline, atol=1e-6, rtol=0)
    chunks = -(-5 // ModelInterpolator.PRIOR_CHUNK)
    assert len(threads) == chunks and all(name.startswith("vidinterp-prior") for name in threads)


def test_teacher_prior_takes_each_pairs_keyframe_flows_from_its_first_target():
    pair_index = torch.tensor([1, 0, 1, 2, 0])
    teacher = torch.arange(5, dtype=torch.float32).view(5, 1, 1, 1).expand(5, 8, 2, 3).clone()
    teacher[:, 6:8] *= -1
    flow_01, flow_10 = teacher_prior(teacher, pair_index, 3)
    assert flow_01.shape == (3, 2, 2, 3)
    assert flow_01[:, 0, 0, 0].tolist() == [1.0, 0.0, 3.0] and flow_10[:, 0, 0, 0].tolist() == [-1.0, 0.0, -3.0]


# -- configs, shipped models, warm start --------------------------------------------------------------------
def test_model_files_written_before_the_prior_existed_load_as_learned_motion(tmp_path):
    model = VFIModel.from_config(tiny_config("none"))
    weights, config_path = save_model(model, tmp_path / "old")
    prior_keys = ("motion_prior", "prior_preset", "prior_max_side", "prior_full_resolution_pixels")
    old = {k: v for k, v in model.config.to_dict().items() if k not in prior_keys}
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(weights)), str(weights), metadata={model_io.CONFIG_KEY: json.dumps(old)})
    assert load_model(weights).config.motion_prior == "none"
    assert ModelConfig.from_dict({}).motion_prior == "dis"  # a new config without the key means today's default


def test_prior_model_files_written_before_the_small_frame_rule_keep_their_prior(tmp_path):
    model = VFIModel.from_config(tiny_config("dis"))
    weights, _ = save_model(model, tmp_path / "v2")
    old = {k: v for k, v in model.config.to_dict().items() if k != "prior_full_resolution_pixels"}
    old["prior_preset"] = "medium"
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(weights)), str(weights), metadata={model_io.CONFIG_KEY: json.dumps(old)})
    prior = DisFlow.for_config(load_model(weights).config)
    assert prior.preset == "medium" and prior.full_resolution_pixels == 0


def test_shipped_models_load_by_name_and_unknown_names_say_what_exists():
    assert load_model("learned").config.motion_prior == "none"
    with pytest.raises(Exception, match="shipped models are named: default, learned"):
        load_model("nonexistent-model")


def test_warm_start_copies_matching_tensors_and_keeps_the_model_at_its_baseline(tmp_path):
    torch.manual_seed(1)
    source = VFIModel.from_config(tiny_config("none"))
    save_model(source, tmp_path / "source")
    model = VFIModel.from_config(tiny_config("dis"))
    copied = model_io.load_matching_weights(model, tmp_path / "source")
    state = source.state_dict()
    assert "autoencoder.encoder.stages.0.0.0.weight" in copied
    for name in copied:
        assert torch.equal(model.state_dict()[name], state[name])
    zero = [n for n, p in model.named_parameters() if not p.any()]
    assert "interpolation.flow_estimator.gate" in zero and not set(zero) & set(copied)


def test_classical_method_is_offered_and_takes_no_weights(tmp_path):
    interpolator = create_interpolator("classical", device="cpu")
    assert isinstance(interpolator, ClassicalInterpolator) and interpolator.name == "classical"
    frame0, frame1 = _shifted_pair(50, 30)  # any size: no padding needed
    assert interpolate(interpolator, frame0, frame1, 0.5).shape == (1, 3, 30, 50)
    with pytest.raises(UsageError, match="--model only applies to --method model"):
        create_interpolator("classical", model_path=tmp_path / "w.safetensors", device="cpu")


def test_large_frames_run_the_network_shrunk_and_keep_full_resolution_detail():
    """Above max_side the network works at half size; the output is warped from the full-size frames, so fine
    texture under a pure translation comes out about as sharp as at full size, not like an upsampled frame."""
    torch.manual_seed(0)
    model = VFIModel.from_config(tiny_config("dis")).eval()
    noise = torch.rand(1, 3, 96, 160, generator=torch.Generator().manual_seed(2))
    texture = torch.nn.functional.avg_pool2d(noise, 3, stride=1, padding=1, count_include_pad=False)
    frame0, frame1, truth = texture, torch.roll(texture, (2, 4), (2, 3)), torch.roll(texture, (1, 2), (2, 3))
    full = ModelInterpolator(model=model, max_side=0)
    half = ModelInterpolator(model=model, max_side=80)
    # Full-size frames are padded only to the shrink factor; the network's own multiple applies to the shrunk ones.
    assert half.pad_multiple_for(96, 160) == 2 and full.pad_multiple_for(96, 160) == 1
    error = lambda out: (out - truth)[..., 16:-16, 16:-16].abs().mean().item()  # noqa: E731 - away from the borders
    out_full, out_half = interpolate(full, frame0, frame1, 0.5), interpolate(half, frame0, frame1, 0.5)
    assert out_half.shape == out_full.shape == (1, 3, 96, 160)
    blurred = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(out_full, 2), scale_factor=2,
                                              mode="bilinear")
    assert error(out_half) < 0.5 * error(blurred)
    assert error(out_full) < 1e-3 and error(out_half) < 0.01  # within 2.5/255: motion found at half size is coarser
    with pytest.raises(ValueError, match="max_side"):
        ModelInterpolator(model=model, max_side=-1)
