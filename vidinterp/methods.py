"""The interpolation methods by name, checked without importing torch (options and `--help` stay cheap); the
other settings live in `vidinterp.execution.settings`."""

from __future__ import annotations

from pathlib import Path

from vidinterp.errors import UsageError

#: Names accepted by `vidinterp.interpolators.create_interpolator` and by --method.
METHODS = ("model", "classical", "blend")


def check_method(method: str | None, model_path: str | Path | None = None) -> None:
    """Refuse an unknown method (None = the default, chosen later) and weights given to a method without any."""
    if method is not None and method not in METHODS:
        raise UsageError(f"unknown interpolation method (--method) {method!r}; choose one of: {', '.join(METHODS)}")
    if method not in (None, "model") and model_path is not None:
        raise UsageError(f"--model only applies to --method model; the {method} method has no weights")
