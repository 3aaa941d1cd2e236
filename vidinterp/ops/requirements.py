"""The oldest torch the ops run on, checked when they are imported (pyproject.toml states the same floor).

The op library uses `torch.library.register_fake` and `register_autograd` (torch 2.4) and
`torch.library.register_autocast` (added in early 2025, first released in torch 2.7). An older torch fails with
one clear message here instead of an AttributeError deep in the registration.
"""

from __future__ import annotations

import torch

TORCH_FLOOR = (2, 7)
REQUIRED_LIBRARY_APIS = ("register_fake", "register_autograd", "register_autocast")


def check_torch() -> None:
    """Raise ImportError naming the floor when this torch lacks an API the ops need."""
    missing = [name for name in REQUIRED_LIBRARY_APIS if not hasattr(torch.library, name)]
    if missing:
        floor = ".".join(map(str, TORCH_FLOOR))
        raise ImportError(
            f"vidinterp needs torch>={floor} (torch.library.{', torch.library.'.join(missing)} missing);"
            f" this is torch {torch.__version__}: pip install 'torch>={floor}'"
        )
