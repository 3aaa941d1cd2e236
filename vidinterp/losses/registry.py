"""A registry of image losses by name, and weighted sums of them built from `{"name": weight}` or "a=1,b=0.1"."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping

import torch
import torch.nn as nn

from vidinterp.errors import UsageError

#: a loss takes pred and target (N×3×H×W, values in [0, 1]) and returns a scalar tensor
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_REGISTRY: dict[str, LossFn] = {}


def register_loss(name: str) -> Callable[[LossFn], LossFn]:
    """Decorator adding `fn(pred, target) -> scalar` to the registry under `name` (then usable from the CLI)."""

    def add(fn: LossFn) -> LossFn:
        if not name.isidentifier():
            raise ValueError(f"loss names must be identifiers, got {name!r}")
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"a loss named {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return add


def available_losses() -> list[str]:
    """Registered loss names, sorted."""
    return sorted(_REGISTRY)


def get_loss(name: str) -> LossFn:
    """The loss function registered as `name`; UsageError listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UsageError(f"unknown loss {name!r}; available losses: {', '.join(available_losses())}") from None


def parse_loss_spec(spec: str | Mapping[str, float] | Iterable[str]) -> dict[str, float]:
    """Normalise a loss spec to {name: weight}.

    Accepts a mapping, a string "charbonnier=1,census=0.1" (a bare name means weight 1), or several such
    strings (one per repeated `--loss` option). Repeated names add up. Weights must be finite and ≥ 0, and
    at least one must be positive.
    """
    if isinstance(spec, Mapping):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        parts = [spec] if isinstance(spec, str) else list(spec)
        items = []
        for part in parts:
            for term in str(part).split(","):
                term = term.strip()
                if not term:
                    continue
                name, _, weight = term.partition("=")
                items.append((name.strip(), weight.strip() or "1"))
    weights: dict[str, float] = {}
    for name, weight in items:
        get_loss(name)
        try:
            value = float(weight)
        except (TypeError, ValueError):
            raise UsageError(f"loss weight for {name!r} must be a number, got {weight!r}") from None
        if not math.isfinite(value) or value < 0:
            raise UsageError(f"loss weight for {name!r} must be a finite number ≥ 0, got {weight!r}")
        weights[name] = weights.get(name, 0.0) + value
    if not weights or not any(w > 0 for w in weights.values()):
        raise UsageError(
            "give at least one loss with a positive weight, e.g. charbonnier=1; "
            f"available: {', '.join(available_losses())}"
        )
    return weights


class CombinedLoss(nn.Module):
    """Weighted sum of registered losses. `loss(pred, target)` returns (total, parts).

    total: scalar tensor Σ weight·loss (differentiable). parts: {name: unweighted value}, detached, for logging.
    """

    def __init__(self, weights: Mapping[str, float]) -> None:
        super().__init__()
        self.weights = dict(weights)
        self._fns = {name: get_loss(name) for name in self.weights}

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total = pred.new_zeros(())
        parts: dict[str, torch.Tensor] = {}
        for name, weight in self.weights.items():
            value = self._fns[name](pred, target)
            parts[name] = value.detach()
            if weight:
                total = total + weight * value
        return total, parts

    def extra_repr(self) -> str:
        return ", ".join(f"{name}={weight:g}" for name, weight in self.weights.items())


def build_loss(spec: str | Mapping[str, float] | Iterable[str]) -> CombinedLoss:
    """A `CombinedLoss` from a spec such as {"charbonnier": 1.0, "census": 0.1} or "charbonnier=1,census=0.1"."""
    return CombinedLoss(parse_loss_spec(spec))
