"""Execution event streams: Server-Sent Events read into protocol events, resumed when cut."""

import pydantic

from shipyard import _endpoints as req
from shipyard._requests import Call, Retries, log
from shipyard.errors import ShipyardError, StreamInterruptedError
from shipyard_protocol.ship import EndEvent, ExecEvent

KINDS = frozenset({"stdout", "stderr", "display", "result", "error", "end"})
EVENT: pydantic.TypeAdapter[ExecEvent] = pydantic.TypeAdapter(ExecEvent)


class Tracker:
    """Where one execution's stream stands: it reads SSE lines and says how to resume a cut.

    Both clients share it, so only their sending differs. A cut is resumed from the last
    event seen, up to `retries.attempts` times in a row; every event that arrives resets the
    count, so a long stream may survive many cuts but never spins on a dead one.
    """

    def __init__(
        self, sandbox_id: str, retries: Retries, execution_id: str | None = None, after: int = 0
    ) -> None:
        self.sandbox_id = sandbox_id
        self.execution_id = execution_id
        self.last_event_id = after
        self.end: EndEvent | None = None
        self._retries = retries
        self._failures = 0
        self._delivered = False
        self._kind = ""
        self._data: list[str] = []

    def feed(self, line: str) -> ExecEvent | None:
        """Take one line of the stream; answer the event it completes, if any."""
        if not line:
            return self._dispatch()
        name, _, value = line.partition(":")  # a heartbeat comment has an empty name
        if name == "data":
            self._data.append(value.removeprefix(" "))
        elif name == "event":
            self._kind = value.strip()
        return None

    def _dispatch(self) -> ExecEvent | None:
        kind, data = self._kind, "\n".join(self._data)
        self._kind, self._data = "", []
        if not data or kind not in KINDS:  # kinds added later are skipped, not fatal
            return None
        event = EVENT.validate_json(data)
        if event.seq <= self.last_event_id:
            return None
        self.last_event_id = event.seq
        self.execution_id = event.execution_id
        self._failures = 0
        self._delivered = True
        if isinstance(event, EndEvent):
            self.end = event
        return event

    def resume(self, cause: Exception | None) -> Call[None]:
        """The call that goes on after the last event; raises when there is none to make.

        Before the first event the cause itself is raised: Bay's refusal of the call, or a
        transport error before an exec's first event (its POST is never repeated).
        """
        refused = isinstance(cause, ShipyardError)
        if cause is not None and (self.execution_id is None or (refused and not self._delivered)):
            raise cause
        if self.execution_id is None:
            raise StreamInterruptedError("the stream ended before its first event", None, 0)
        if refused or self._failures >= self._retries.attempts:
            message = (
                f"the events of {self.execution_id} stopped after event {self.last_event_id} "
                f"without an end: {cause or 'the server closed the stream'}"
            )
            raise StreamInterruptedError(message, self.execution_id, self.last_event_id) from cause
        self._failures += 1
        log.debug(
            "the events of %s stopped after event %d (%s); resuming, try %d of %d",
            self.execution_id,
            self.last_event_id,
            cause or "the server closed the stream",
            self._failures,
            self._retries.attempts,
        )
        return req.execution_events(self.sandbox_id, self.execution_id, self.last_event_id)

    def delay(self) -> float:
        """Seconds to wait before the resume `resume()` just made."""
        return self._retries.delay(self._failures - 1)
