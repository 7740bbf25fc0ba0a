"""Keys that authenticated a moment ago, so most requests skip the key table.

Every request used to read the key table: a database round trip on every call, the first
thing a warm execution waited for. A key seen in the last `ttl` seconds is trusted again
without it. A revocation through this Bay clears the memory at once; one made elsewhere
(another replica, `bay keys revoke`) holds within `ttl`.
"""

from bay.services.keys import Principal
from bay.services.memory import Memory


def key_memory(ttl: float) -> Memory[Principal]:
    """Callers by the hash of their key, each for `ttl` seconds (0: none remembered)."""
    return Memory(ttl)
