"""prereview: voluntary pre-release review of frontier AI models."""

__version__ = "0.1.0"
