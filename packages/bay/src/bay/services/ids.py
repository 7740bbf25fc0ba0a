"""Resource ids: a prefix plus 12 lowercase hex characters from uuid4."""

import uuid


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"
