"""A session's Ship answers every failure as Bay's error, translated once in the client."""

from pathlib import Path

import pytest

from bay.errors import BayError, FileNotFoundInCargoError, ShipError, ShipTimeoutError
from bay.ship_client import (
    ShipCallError,
    ShipClient,
    ShipRefusedError,
    ShipTimedOutError,
    ShipUnreachableError,
)
from bay.ship_session import SessionShip, ShipNotReachedError, bay_error
from shipyard_protocol.errors import ErrorCode


@pytest.mark.parametrize(
    ("failure", "error", "status"),
    [
        (ShipRefusedError("cannot connect"), ShipNotReachedError, 502),
        (ShipUnreachableError("cut short"), ShipError, 502),
        (ShipTimedOutError("no answer in 5 s"), ShipTimeoutError, 504),
        (ShipCallError(ErrorCode.FILE_NOT_FOUND, "no a.txt", 404), FileNotFoundInCargoError, 404),
        (ShipCallError(ErrorCode.INTERNAL_ERROR, "boom", 500), ShipError, 502),
    ],
)
def test_each_failure_becomes_one_bay_error(
    failure: ShipCallError, error: type[BayError], status: int
) -> None:
    translated = bay_error(failure)
    assert type(translated) is error
    assert translated.status == status
    assert failure.message in translated.message


def test_only_a_refused_connection_says_the_call_never_started() -> None:
    assert isinstance(bay_error(ShipRefusedError("x")), ShipNotReachedError)
    assert not isinstance(bay_error(ShipUnreachableError("x")), ShipNotReachedError)


async def test_a_call_to_a_gone_ship_raises_bay_errors_only(tmp_path: Path) -> None:
    async with ShipClient() as client:
        ship = SessionShip(client, f"unix:{tmp_path}/no-ship.sock")
        with pytest.raises(ShipNotReachedError, match="Ship request failed"):
            await ship.read_file("a.txt")
        assert client.suspect(ship.endpoint)
