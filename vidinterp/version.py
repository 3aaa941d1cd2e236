"""The version of vidinterp, in one place: the package metadata, `vidinterp --version` and the reports read it."""

__version__ = "0.1.0"
