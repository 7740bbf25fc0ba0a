"""Running sandboxes whose port relay was checked a moment ago, so a page's burst of requests
costs one database round trip, not one each.

Checking a port request against the database (owner, expiry, running session, idle lease)
took most of the time a proxied request spent in Bay. What was true a second ago is
trusted again: the idle lease is renewed at most once a second anyway, a sandbox's TTL caps
the memory, and a session this Bay ends is forgotten at once; one ended by another replica
holds for at most `REMEMBER_S` (its requests then fail as unreachable, 502).
"""

from dataclasses import dataclass

from bay.services.memory import Memory

REMEMBER_S = 1.0


@dataclass(frozen=True)
class Running:
    """A sandbox found running, as a port relay needs it."""

    owner: str
    endpoint: str  # its Ship's


def relay_memory() -> Memory[Running]:
    """Running sandboxes by id, each for at most `REMEMBER_S` (and never past its TTL)."""
    return Memory(REMEMBER_S)
