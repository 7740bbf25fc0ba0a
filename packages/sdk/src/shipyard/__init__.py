"""Shipyard Neo Python SDK."""
