"""The syscall policy's arithmetic: argument ranges become exact masked comparisons."""

import pytest

from bay.drivers import seccomp


def covered(start: int, end: int) -> set[int]:
    values = set()
    for block, mask in seccomp._blocks(start, end):
        size = (~mask & 0xFFFFFFFFFFFFFFFF) + 1
        assert block & ~mask == 0, "a block starts on its own alignment"
        values |= set(range(block, block + size))
    return values


@pytest.mark.parametrize(("start", "end"), [(1, 8), (9, 0x20000), (0x20001, 0x20008), (5, 6)])
def test_blocks_cover_exactly_the_range(start: int, end: int) -> None:
    assert covered(start, end) == set(range(start, end))


def test_every_refused_persona_is_covered_and_no_allowed_one() -> None:
    rules = [rule for rule in seccomp.rules() if rule.syscall == "personality"]
    masked = [rule.where[0] for rule in rules if rule.where[0].op == seccomp._MASKED_EQ]

    def refused(persona: int) -> bool:
        if persona > seccomp.ALLOWED_PERSONAS[-1]:
            return True
        return any(persona & compare.mask == compare.value for compare in masked)

    for persona in (*seccomp.ALLOWED_PERSONAS, 0x0040000, 0x0400000, 0x0100000, 1, 0x20009):
        assert refused(persona) is (persona not in seccomp.ALLOWED_PERSONAS), hex(persona)


def test_docker_profile_refuses_what_the_filter_refuses() -> None:
    names = {entry["names"][0] for entry in seccomp.docker_profile()["syscalls"]}
    assert names == {rule.syscall for rule in seccomp.rules()}
    assert "clone3" not in {e["names"][0] for e in seccomp.docker_profile(True)["syscalls"]}
