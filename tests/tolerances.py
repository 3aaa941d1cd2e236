"""Float comparisons that hold on every CPU (AVX2, AVX-512, AMX) and summation order.

Kernels on different CPUs add the same terms in different orders, so two computations of one value differ by a
few units in the last place *of the terms summed*, not of the result. A value whose true size is about zero
(the gradient of a parameter that cannot change the loss, e.g. a bias in front of a softmax) is then pure
rounding noise at the scale of its neighbours, and an absolute tolerance picked for typical values fails on it.
The tolerance here is relative to each tensor's own size, with a floor at the size of the whole group compared
(all gradients of one model), so identically-zero values are judged at the scale their noise comes from.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


def assert_close_to_scale(
    actual: torch.Tensor, expected: torch.Tensor, *, rtol: float, floor: float = 0.0, msg: str = ""
) -> None:
    """|actual − expected| ≤ rtol · max(max|expected|, max|actual|, floor), element-wise."""
    actual, expected = actual.detach(), expected.detach()
    scale = max(float(expected.abs().max()), float(actual.abs().max()), floor) if expected.numel() else floor
    torch.testing.assert_close(actual, expected, atol=rtol * scale, rtol=rtol, msg=msg or None)


def assert_tensors_close_to_scale(
    actual: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor], *, rtol: float
) -> None:
    """Each tensor of `actual` (e.g. every parameter's gradient) matches `expected`, each to its own size, with
    the largest magnitude among all of them as the floor: rounding noise scales with the terms summed."""
    assert actual.keys() == expected.keys()
    floor = max((float(t.abs().max()) for t in expected.values() if t.numel()), default=0.0)
    for name, want in expected.items():
        assert_close_to_scale(actual[name], want, rtol=rtol, floor=floor, msg=name)
