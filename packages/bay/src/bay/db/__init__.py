"""Persistence: ORM models, the engine, repositories and migrations."""
