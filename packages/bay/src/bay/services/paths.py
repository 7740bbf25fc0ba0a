"""Bay-side path rules (contract §1.8): relative, no NUL, no escape above the workspace.

One deliberate difference: an absolute path inside /workspace is taken as the relative path it
names, since the API itself answers with such paths (`files.list()` gives `/workspace/n.txt`);
any other absolute path keeps the contract's `absolute_path` error.
"""

from bay.errors import InvalidPathError
from shipyard_protocol.api import MAX_NAME_BYTES, MAX_PATH_BYTES

WORKSPACE = "/workspace"


def normalize_path(value: str, field: str = "path") -> str:
    """Return the normalised relative path, or raise 400 `invalid_path`."""
    if not value:
        raise _invalid(field, "empty_path", "path must not be empty")
    if "\x00" in value:
        raise _invalid(field, "null_byte", "path must not contain NUL bytes")
    if value == WORKSPACE or value.startswith(f"{WORKSPACE}/"):
        value = value.removeprefix(WORKSPACE).lstrip("/") or "."
    elif value.startswith("/"):
        raise _invalid(field, "absolute_path", "path must be a relative path")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise _invalid(field, "too_long", f"path must be at most {MAX_PATH_BYTES} bytes")
    parts: list[str] = []
    for part in value.split("/"):
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            message = f"each name in a path must be at most {MAX_NAME_BYTES} bytes"
            raise _invalid(field, "name_too_long", message)
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise _invalid(field, "path_traversal", "path must stay inside /workspace")
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts) or "."


def _invalid(field: str, reason: str, message: str) -> InvalidPathError:
    return InvalidPathError(message, {"field": field, "reason": reason})
