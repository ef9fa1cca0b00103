"""layerscope: look inside container image archives."""

__version__ = "0.1.0"
