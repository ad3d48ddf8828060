"""MIRP: multilingual interactive remote participation."""

__version__ = "0.1.0"
