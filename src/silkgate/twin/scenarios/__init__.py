"""Shipped twin scenarios (TOML package data; see docs/twin.md)."""
