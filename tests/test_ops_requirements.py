"""The torch floor: stated once in pyproject.toml, checked with a clear message on import of the ops."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from vidinterp.ops import requirements


def test_pyproject_states_the_floor_the_ops_check():
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    declared = re.search(r'"torch>=([0-9.]+)"', text).group(1)
    assert tuple(int(p) for p in declared.split(".")) == requirements.TORCH_FLOOR


def test_an_older_torch_fails_with_one_clear_message(monkeypatch):
    monkeypatch.delattr(torch.library, "register_autocast")
    with pytest.raises(ImportError, match=r"torch>=2\.7 \(torch\.library\.register_autocast missing\)"):
        requirements.check_torch()


def test_this_torch_passes():
    requirements.check_torch()
