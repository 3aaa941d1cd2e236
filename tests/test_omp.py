"""OpenMP threads sleep between parallel regions for the CLI's inference commands (vidinterp.pipeline.omp)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(code: str, **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"} | env
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment, check=True)
    return result.stdout.strip()


CHECK = "import os, sys; from vidinterp.pipeline.omp import prefer_passive_waiting as p; {before}" \
        "print(p(), os.environ.get('OMP_WAIT_POLICY'))"


def test_set_before_torch_loads_and_never_over_the_users_choice():
    assert _run(CHECK.format(before="")) == "True PASSIVE"
    assert _run(CHECK.format(before=""), OMP_WAIT_POLICY="ACTIVE") == "False ACTIVE"
    assert _run(CHECK.format(before="import torch; ")) == "False None"  # too late: OpenMP read it already


@pytest.mark.parametrize(("command", "expected"), [("upsample", "PASSIVE"), ("eval", "PASSIVE"), ("train", "None")])
def test_the_cli_sets_it_for_inference_commands(command, expected):
    code = ("import os, sys; from vidinterp.cli import main\n"
            f"try:\n    main(['{command}', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(os.environ.get('OMP_WAIT_POLICY'), file=sys.stderr)")
    environment = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert result.stderr.strip().splitlines()[-1] == expected
