"""The optional C part of the tar reader (`explorer/archive/_ustar.c`): built by `pip install`
where a C compiler and Python's headers are at hand; without it the Python reader does the
same work (see benchmarks/README.md, "A compiled header reader")."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("explorer.archive._ustar", ["explorer/archive/_ustar.c"], optional=True),
        Extension("explorer.analysis._place", ["explorer/analysis/_place.c"], optional=True),
    ]
)
