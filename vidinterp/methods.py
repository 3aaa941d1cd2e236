"""The interpolation methods by name, checked without importing torch (options and `--help` stay cheap)."""

from __future__ import annotations

from pathlib import Path

from vidinterp.errors import UsageError

#: Names accepted by `vidinterp.interpolators.create_interpolator` and by --method.
METHODS = ("model", "classical", "blend")


#: Model precisions accepted by --precision (see `vidinterp.interpolators.runtime` for what each does where).
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def check_model_settings(precision: str | None, max_side: int | None) -> None:
    """Refuse an unknown precision name or a negative working size (None = the defaults, decided later)."""
    if precision is not None and precision not in PRECISIONS:
        raise UsageError(f"unknown precision (--precision) {precision!r}; choose one of: {', '.join(PRECISIONS)}")
    if max_side is not None and (isinstance(max_side, bool) or not isinstance(max_side, int) or max_side < 0):
        raise UsageError(f"--max-side must be 0 (full size) or a whole number of pixels, got {max_side!r}")


def check_method(method: str | None, model_path: str | Path | None = None) -> None:
    """Refuse an unknown method (None = the default, chosen later) and weights given to a method without any."""
    if method is not None and method not in METHODS:
        raise UsageError(f"unknown interpolation method (--method) {method!r}; choose one of: {', '.join(METHODS)}")
    if method not in (None, "model") and model_path is not None:
        raise UsageError(f"--model only applies to --method model; the {method} method has no weights")
