"""Rich output (display data and a cell's value), capped in the kernel like its streams.

Runs inside the kernel process. A value whose representation is huge (`"a" * 30_000_000` as a
cell's last line, `display(HTML(...))` of a big page) would otherwise travel whole to Ship and
through it to Bay: in a small sandbox Ship ran out of memory and the sandbox died. Each entry
of a bundle is held to the output limit: text keeps its head and tail around the usual marker;
anything else (an image's base64, JSON) past the limit is left out, and text/plain says so.
"""

from typing import Any

from ship.output import marker

TEXT_TYPES = ("text/", "application/javascript")


def cap_bundle(data: dict[str, Any], limit: int) -> dict[str, Any]:
    """`data` with every entry at most `limit` characters (the same object when all fit)."""
    if limit <= 0 or all(not isinstance(v, str) or len(v) <= limit for v in data.values()):
        return data
    capped: dict[str, Any] = {}
    dropped: list[str] = []
    for mime, value in data.items():
        if not isinstance(value, str) or len(value) <= limit:
            capped[mime] = value
        elif mime.startswith(TEXT_TYPES):
            capped[mime] = _head_and_tail(value, limit)
        else:
            dropped.append(f"{mime} of {len(value)} characters")
    if dropped:
        note = f"[{', '.join(dropped)} left out: past the output limit of {limit}]"
        capped["text/plain"] = f"{capped.get('text/plain', '')}\n{note}".lstrip("\n")
    return capped


def _head_and_tail(text: str, limit: int) -> str:
    """Cut by characters (the limit bounds memory, not exact bytes); the marker counts bytes,
    as the streams' does."""
    half = limit // 2
    head, tail = text[:half], text[len(text) - half :]
    return head + marker(_bytes(text) - _bytes(head) - _bytes(tail)) + tail


def _bytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def install(shell: Any, limit: int) -> None:
    """Cap what `shell` publishes (display data) and what its display hook sends (the value)."""
    if limit <= 0:
        return
    publish = shell.display_pub.publish

    def capped_publish(data: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return publish(cap_bundle(data, limit), *args, **kwargs)

    shell.display_pub.publish = capped_publish
    write = shell.displayhook.write_format_data

    def capped_write(format_dict: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return write(cap_bundle(format_dict, limit), *args, **kwargs)

    shell.displayhook.write_format_data = capped_write
