"""The capped output buffer keeps a head and a tail and says what it dropped."""

from ship.output import OutputBuffer


def test_under_the_limit_everything_is_kept() -> None:
    buffer = OutputBuffer(10)
    buffer.write(b"hello")
    buffer.write(b"!")

    assert buffer.render() == "hello!"
    assert buffer.truncated is False


def test_over_the_limit_head_and_tail_are_kept() -> None:
    buffer = OutputBuffer(10)
    for chunk in (b"abc", b"defgh", b"ijklmnop", b"qrstuvwxyz"):
        buffer.write(chunk)

    assert buffer.render() == "abcde\n...[truncated 16 bytes]...\nvwxyz"
    assert buffer.dropped == 16


def test_memory_stays_bounded() -> None:
    buffer = OutputBuffer(1000)
    for _ in range(10_000):
        buffer.write(b"x" * 1000)

    rendered = buffer.render()
    assert buffer.dropped == 10_000 * 1000 - 1000
    assert len(rendered) < 1100


def test_split_characters_decode_with_replacement() -> None:
    buffer = OutputBuffer(5)
    buffer.write("ééé".encode())

    assert buffer.render() == "é\n...[truncated 1 bytes]...\n\ufffdé"
