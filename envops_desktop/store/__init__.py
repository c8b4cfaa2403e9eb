"""Persistence: SQLite metadata, the content-addressed blob store, configuration files."""
