"""ms-migrate: move the optimizer side of PyTorch training code to MindSpore."""

__version__ = "0.1.0"
