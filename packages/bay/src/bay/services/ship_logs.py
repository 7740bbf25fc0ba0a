"""Ship's log lines reach Bay's log, each tagged with its sandbox and session.

Ship keeps its records in a bounded buffer until a Bay drains it: the heartbeat does for
every running session, and a session's stop does once more before the end. Lines a Bay
restart interrupts wait in Ship for the next Bay.
"""

import logging

import structlog

from bay.ship_client import ShipCallError, ShipClient

log = structlog.get_logger("bay.ship")

_LEVELS = {"debug": logging.DEBUG, "warning": logging.WARNING, "error": logging.ERROR}


async def relay(
    ship: ShipClient, endpoint: str, sandbox_id: str, session_id: str, timeout: float = 5.0
) -> int:
    """Drain one Ship's buffer into Bay's log; how many lines came (0 when Ship is gone)."""
    try:
        logs = await ship.logs(endpoint, timeout)
    except ShipCallError as exc:
        log.debug("ship logs unavailable", sandbox_id=sandbox_id, session_id=session_id, error=exc)
        return 0
    tags = {"sandbox_id": sandbox_id, "session_id": session_id, "source": "ship"}
    for line in logs.lines:
        level = _LEVELS.get(line.level, logging.INFO)
        log.log(level, line.message, ship_logger=line.logger, ship_time=line.time, **tags)
    if logs.dropped:
        log.warning("ship log lines dropped before Bay read them", dropped=logs.dropped, **tags)
    return len(logs.lines)
