"""Where the fake driver's Ships listen: a path a socket can take, the same on every call."""

from pathlib import Path

from bay.drivers.fake import FakeDriver

SOCKET_PATH_MAX = 107  # sun_path's room, less its final NUL
SESSION_FILE = "sess-0123456789ab.sock"


def test_a_short_data_dir_keeps_its_ships_under_it() -> None:
    data_dir = Path("/tmp/bay")
    assert FakeDriver.sockets(data_dir) == data_dir / "ships"


def test_a_long_data_dir_gets_a_short_place_named_after_it() -> None:
    data_dir = Path("/tmp") / ("deep/" * 30) / "bay"
    first, again = FakeDriver.sockets(data_dir), FakeDriver.sockets(data_dir)
    other = FakeDriver.sockets(data_dir.with_name("bay2"))
    assert first == again != other
    assert len(str(first / SESSION_FILE)) <= SOCKET_PATH_MAX
    assert not first.exists()  # naming the place creates nothing
