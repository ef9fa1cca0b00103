"""The optional C parts of the tar reader (`explorer/archive/_ustar.c`) and of stacking
(`explorer/analysis/_place.c`): built by `pip install` where a C compiler and Python's headers
are at hand; without them the Python code does the same work (see benchmarks/README.md, the
fourth and fifth rounds of issue 18)."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("explorer.archive._ustar", ["explorer/archive/_ustar.c"], optional=True),
        Extension("explorer.analysis._place", ["explorer/analysis/_place.c"], optional=True),
    ]
)
