"""Silkgate tests."""
