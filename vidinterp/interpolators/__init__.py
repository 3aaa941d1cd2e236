"""Interpolators: the blend baseline and the learned model behind one interface."""

from vidinterp.interpolators.base import Interpolator, PreparedPairs

__all__ = ["Interpolator", "PreparedPairs"]
