"""sitelens: audit container images for Python packaging problems."""

__version__ = "0.1.0"
