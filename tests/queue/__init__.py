"""Test package (unique module names: several areas have a test_api.py)."""
