"""Cross-cutting pieces: settings, database, errors, authentication, signing."""
