"""PneumoScan core: image loading, preprocessing, model card, runner, scanning.

This package imports neither Qt nor TensorFlow, so that ``pneumo scan`` and the
desktop app start fast on the LiteRT runtime alone.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
