"""ResNet Explorer: see why residual learning works."""

__version__ = "0.1.0"
