"""Bytes to entries: sources, decompression, the tar reader, manifests and config, the worker pool.

Nothing here knows what an image means; `explorer.analysis` builds on it. Kept free of
imports so a scanning worker process loads only what a scan needs.
"""
