"""Tamper-evident audit log: hash-chained entries signed with the platform key."""
