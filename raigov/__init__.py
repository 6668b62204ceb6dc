"""raigov: Responsible-AI governance and monitoring for served PyTorch models."""

__version__ = "0.1.0"
