"""The standalone scripts in benchmarks/, loaded as modules so tests can call their functions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_path(name: str) -> Path:
    """benchmarks/NAME.py."""
    return BENCHMARKS / f"{name}.py"


def load_benchmark(name: str) -> ModuleType:
    """benchmarks/NAME.py run as a fresh module named `NAME_benchmark`. It is registered in sys.modules before it
    runs: dataclasses resolve string annotations through it."""
    spec = importlib.util.spec_from_file_location(f"{name}_benchmark", benchmark_path(name))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
