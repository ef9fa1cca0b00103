"""Hostile and broken archives: a generated corpus, a structured fuzzer, and their tests.

Nothing here is a committed binary: every input is generated from `tests.imagebuilder`
archives (see corpus.py and fuzz.py).
"""
