"""The risk engine on the platform: tables, assessor and its worker, model registry, profiles
and inspection results in the database, API routes and the database CLI commands.
"""
