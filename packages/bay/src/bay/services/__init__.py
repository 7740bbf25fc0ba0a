"""Business rules of Bay: no FastAPI here; callers pass everything in."""
