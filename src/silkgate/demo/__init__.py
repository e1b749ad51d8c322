"""Seeded demo registry and traffic through Khorgos–Nur Zholy (used by demo, benchmarks, twin)."""
