"""Benchmarks behind `vidinterp bench` and benchmarks/ops.py: operator timings and end-to-end interpolation."""

from vidinterp.bench.e2e import run_e2e_bench
from vidinterp.bench.environment import hardware_info, software_versions
from vidinterp.bench.ops import OpsBenchConfig, run_ops_bench

__all__ = ["OpsBenchConfig", "hardware_info", "run_e2e_bench", "run_ops_bench", "software_versions"]
