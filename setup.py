"""Build script: the pure-Python package always; the C++/CUDA operator extension when it can be built.

Placeholder until the operators land; see `vidinterp/ops`.
"""

from setuptools import setup

setup()
