"""Silkgate: border-crossing data platform for the China–Kazakhstan road crossings."""

__version__ = "0.1.0"
