"""Hostile arguments to the Python API's `interpolate` and `load`: every one either works as documented or raises
UsageError/VidinterpError with one line that says what was wrong, and the caller's frames are never changed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _cli_api import assert_one_line

import vidinterp
from synthetic import pattern_frame

pytestmark = pytest.mark.faults

FRAME0, FRAME1 = pattern_frame(0, 24, 16), pattern_frame(2, 24, 16)


@pytest.fixture(scope="module")
def blend():
    return vidinterp.load(method="blend", device="cpu")


@pytest.fixture(scope="module")
def model():
    return vidinterp.load(device="cpu")


def _refused(call, error=vidinterp.UsageError, *says):
    with pytest.raises(error) as raised:
        call()
    return assert_one_line(raised.value, *says)


# -- t ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "t",
    [np.float32(0.5), np.float64(0.5), np.float16(0.5), np.array(0.5), torch.tensor(0.5), 0.5, 1 / 2],
    ids=["np.float32", "np.float64", "np.float16", "0-d array", "0-d tensor", "float", "expression"],
)
def test_any_real_number_is_a_t(blend, t):
    middle = blend.interpolate(FRAME0, FRAME1, t=t)
    assert np.array_equal(middle, blend.interpolate(FRAME0, FRAME1, t=0.5))


@pytest.mark.parametrize(
    "t",
    [[np.float32(0.25), 0.75], (0.25, 0.75), np.array([0.25, 0.75]), torch.tensor([0.25, 0.75]), [np.int64(0), 1]],
    ids=["list of NumPy scalars", "tuple", "1-d array", "1-d tensor", "integer ends"],
)
def test_sequences_of_t_give_one_frame_each(blend, t):
    results = blend.interpolate(FRAME0, FRAME1, t=t)
    assert isinstance(results, list) and len(results) == 2 and all(r.shape == FRAME0.shape for r in results)


@pytest.mark.parametrize(
    "t, says",
    [
        ("0.5", "got str '0.5'"),
        (None, "got NoneType"),
        (True, "got bool"),
        (1j, "got complex"),
        ({0.5: 1}, "got dict"),
        ({0.5}, "got set"),
        ([0.5, "a"], "got str 'a' among them"),
        ([[0.5]], "got list [0.5] among them"),
        (np.array([[0.5]]), "got ndarray"),
        (np.full((40, 40), 0.5), "got ndarray array([[0.5, 0.5,"),
        (torch.tensor([[0.5]]), "got Tensor"),
        ([], "at least one t"),
        (float("nan"), "between 0 and 1"),
        (float("inf"), "between 0 and 1"),
        (-0.1, "got -0.1"),
        (1.5, "got 1.5"),
        ([0.5, 2], "got 2.0"),
    ],
    ids=["string", "None", "bool", "complex", "dict", "set", "string in list", "nested list", "2-d array", "big array",
         "2-d tensor", "empty list", "nan", "inf", "negative", "above 1", "one above 1 in a list"],
)
def test_bad_t_is_one_usage_line(blend, t, says):
    _refused(lambda: blend.interpolate(FRAME0, FRAME1, t=t), vidinterp.UsageError, "t", says)


# -- frames ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, says",
    [
        (lambda f: f.astype(np.float32), "from 29 to 235; float frames must be in 0..1 (it looks like 0..255"),
        (lambda f: torch.from_numpy(f).permute(2, 0, 1).float()[None], "float frames must be in 0..1"),
        (lambda f: f.astype(np.float64) / 255 - 0.5, "float frames must be in 0..1"),
        (lambda f: f.astype(np.float64) / 255 * 2, "float frames must be in 0..1"),
        (lambda f: np.where(np.arange(24)[None, :, None] == 5, np.nan, f / 255.0), "48 NaN or infinite values"),
        (lambda f: np.full(f.shape, np.inf, np.float32), "NaN or infinite"),
        (lambda f: np.full(f.shape, -np.inf, np.float16), "NaN or infinite"),
        (lambda f: torch.full((2, 3, 16, 24), float("nan")), "NaN or infinite"),
    ],
    ids=["0..255 float32", "0..255 tensor", "centred on 0", "0..2", "a NaN column", "inf", "-inf float16",
         "NaN tensor batch"],
)
def test_float_frames_outside_0_1_or_not_finite_are_refused(blend, make, says):
    frame = make(FRAME0)
    before = frame.clone() if isinstance(frame, torch.Tensor) else frame.copy()
    _refused(lambda: blend.interpolate(frame, frame), vidinterp.UsageError, "frame0", says)
    if isinstance(frame, torch.Tensor):
        assert torch.equal(frame.nan_to_num(), before.nan_to_num())
    else:
        assert np.array_equal(frame, before, equal_nan=True)


def test_a_nan_pixel_never_reaches_the_model(model):
    """One NaN pixel spread through the network's convolutions to the whole output: refused before it."""
    frame0, frame1 = FRAME0 / np.float32(255), FRAME1 / np.float32(255)
    frame0[3, 4, 1] = np.nan
    _refused(lambda: model.interpolate(frame0, frame1), vidinterp.UsageError, "frame0 has 1 NaN or infinite value")
    frame0[3, 4, 1] = 0.5
    assert np.isfinite(model.interpolate(frame0, frame1)).all()


def test_float_rounding_just_outside_0_1_is_clamped(blend):
    frame0 = FRAME0 / np.float32(255)
    frame0[0, 0] = [-1e-4, 1 + 1e-4, 0.5]
    middle = blend.interpolate(frame0, frame0)
    assert middle.min() >= 0 and middle.max() <= 1


@pytest.mark.parametrize(
    "frame, says",
    [
        (np.zeros((0, 0, 3), np.uint8), "0×0 pixels"),
        (np.zeros((0, 5, 3), np.uint8), "5×0 pixels"),
        (torch.zeros(1, 3, 4, 0), "0×4 pixels"),
        (np.zeros((8, 8, 3), np.int32), "got int32"),
        (np.zeros((8, 8, 3), bool), "got bool"),
        (np.zeros((8, 8, 3), np.complex64), "got complex64"),
        (np.zeros((8, 8, 3), object), "got object"),
        (np.zeros((8, 8), np.uint8), "H×W×3"),
        (np.zeros((8, 8, 4), np.uint8), "H×W×3"),
        (np.zeros((3, 8, 8), np.uint8), "H×W×3"),
        (torch.zeros(1, 4, 8, 8), "B×3×H×W"),
        (torch.zeros(1, 1, 3, 8, 8), "B×3×H×W"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.int64), "got torch.int64"),
        (torch.zeros(1, 3, 8, 8, dtype=torch.complex64), "got torch.complex64"),
        (torch.zeros(1, 3, 8, 8, device="meta"), "meta device"),
        (torch.zeros(1, 3, 8, 8).to_sparse(), "dense"),
        ([[0, 0, 0]], "got list"),
        (None, "got NoneType"),
        ("frame.png", "got str"),
    ],
    ids=["0×0", "no rows", "no columns", "int32", "bool", "complex", "object", "grey 2-d", "RGBA", "channels first",
         "4-channel tensor", "5-d tensor", "int64 tensor", "complex tensor", "meta tensor", "sparse tensor", "list",
         "None", "a file name"],
)
def test_unusable_frames_are_one_usage_line(blend, frame, says):
    _refused(lambda: blend.interpolate(frame, frame), vidinterp.UsageError, "frame0", says)


def test_an_empty_batch_gives_empty_batches(blend):
    empty = torch.zeros(0, 3, 8, 8)
    middle, ends = blend.interpolate(empty, empty, t=[0.5, 1.0])
    assert middle.shape == ends.shape == (0, 3, 8, 8)


def test_one_pixel_frames_work_with_the_model(model):
    frame0, frame1 = np.zeros((1, 1, 3), np.uint8), np.full((1, 1, 3), 200, np.uint8)
    assert model.interpolate(frame0, frame1).shape == (1, 1, 3)


@pytest.mark.parametrize(
    "frame0, frame1, says",
    [
        (FRAME0, torch.zeros(1, 3, 16, 24), "same kind"),
        (FRAME0, FRAME0[:8], "differ in shape"),
        (torch.zeros(2, 3, 8, 8), torch.zeros(3, 3, 8, 8), "differ in shape"),
    ],
    ids=["array and tensor", "two sizes", "two batch sizes"],
)
def test_mismatched_pairs_are_one_usage_line(blend, frame0, frame1, says):
    _refused(lambda: blend.interpolate(frame0, frame1), vidinterp.UsageError, says)


# -- load ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", [None, torch.device("cpu"), "cpu", " CPU "], ids=["None", "torch.device", "cpu",
                                                                                    "spaces and capitals"])
def test_cpu_devices_load(device):
    assert vidinterp.load(method="blend", device=device).device.type == "cpu"


def test_a_gpu_index_is_a_cuda_device():
    if torch.cuda.is_available():
        assert vidinterp.load(method="blend", device=0).device == torch.device("cuda", 0)
    else:
        _refused(lambda: vidinterp.load(method="blend", device=0), vidinterp.VidinterpError, "cuda:0", "no CUDA GPU")


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"device": -1}, "0 or more"),
        ({"device": 1.5}, "got float 1.5"),
        ({"device": True}, "got bool"),
        ({"device": "gpu"}, "unknown device 'gpu'"),
        ({"device": "cuda:x"}, "cuda:x"),
        ({"model": 3}, "got int 3"),
        ({"method": "rife"}, "unknown interpolation method"),
        ({"batch_size": 0}, "batch size"),
        ({"batch_size": True}, "batch size"),
        ({"precision": "fp8"}, "unknown precision"),
        ({"max_side": -1}, "--max-side"),
        ({"max_side": 1.5}, "--max-side"),
    ],
    ids=["negative index", "float", "bool", "unknown name", "bad index", "model as int", "unknown method",
         "batch 0", "batch True", "precision", "negative max side", "fractional max side"],
)
def test_bad_load_arguments_are_one_usage_line(kwargs, says):
    _refused(lambda: vidinterp.load(**{"method": "blend", **kwargs} if "model" not in kwargs else kwargs),
             vidinterp.UsageError, says)
