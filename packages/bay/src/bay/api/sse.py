"""Server-Sent Events framing for execution event streams."""

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from bay.services.streams import EventOrBeat

EVENT_STREAM = "text/event-stream"


def wants_events(accept: str | None) -> bool:
    return accept is not None and EVENT_STREAM in accept


def sse_response(items: AsyncIterator[EventOrBeat]) -> StreamingResponse:
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(_frames(items), media_type=EVENT_STREAM, headers=headers)


async def _frames(items: AsyncIterator[EventOrBeat]) -> AsyncIterator[bytes]:
    async for item in items:
        if item is None:
            yield b": keepalive\n\n"
            continue
        data = item.model_dump_json()
        yield f"id: {item.seq}\nevent: {item.kind}\ndata: {data}\n\n".encode()
