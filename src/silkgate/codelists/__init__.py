"""Reference code lists and identifier validators (loaded lazily, cached)."""
