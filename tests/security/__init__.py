"""Attacks on the walls: each test tries to break one and asserts the safe outcome."""
