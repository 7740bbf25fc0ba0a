"""Resource exhaustion: each attack ends in a refusal, and the sandbox and its neighbours
still answer afterwards, with their variables kept."""

import contextlib
import json
import re
import shlex
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bay.drivers.base import Driver, Instance, Limits
from tests.engines import (
    new_cargo,
    new_spec,
    py,
    sh,
    ship,
)

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(300)]

MIB = 1024 * 1024
# A small profile: what the attacks below ended with an OOM kill before. gVisor's own threads
# count against pids.max, so it gets the conformance suite's larger cap.
SMALL = Limits(cpus=1.0, memory_bytes=256 * MIB, pids=128)
SMALL_GVISOR = Limits(cpus=1.0, memory_bytes=256 * MIB, pids=512)
OUTPUT_LIMIT = 1024 * 1024  # Ship's default per stream per execution
BOMB = ":(){ :|:& };:"
FLOOD = "for i in range({count}):\n    print(str(i % 10) * {size})"


def small(variant: str) -> Limits:
    return SMALL_GVISOR if variant == "docker+runsc" else SMALL


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def neighbour(variant: str, driver: Driver) -> AsyncIterator[Instance]:
    """A session beside every attacked one: it must not notice the attack."""
    instance = await driver.start(new_spec(variant, await new_cargo(driver), small(variant)))
    yield instance
    await driver.stop(instance.ref)


@pytest_asyncio.fixture(loop_scope="module")
async def victim(variant: str, driver: Driver) -> AsyncIterator[Instance]:
    """The attacked session, holding a variable that must survive the attack."""
    instance = await driver.start(new_spec(variant, await new_cargo(driver), small(variant)))
    assert (await py(instance, "kept = 42"))["success"] is True
    yield instance
    await driver.stop(instance.ref)


async def assert_still_answers(victim: Instance, neighbour: Instance) -> None:
    """The attacked kernel kept its variables, its shell works, and the neighbour answers."""
    after = await py(victim, "print(kept)")
    # IPython may add that it cannot save its history to a full /tmp.
    assert re.match(r"42(?!\d)", after["text"]), after
    assert after["kernel_restarted"] is False, after
    assert (await sh(victim, "echo alive"))["stdout"] == "alive\n"
    assert (await sh(neighbour, "echo alive"))["stdout"] == "alive\n"
    assert (await py(neighbour, "1 + 1"))["text"] == "2"


async def py_events(instance: Instance, code: str, timeout: float = 120) -> list[dict[str, Any]]:
    """The execution's events as streamed (NDJSON), read as they come."""
    body = {"code": code, "timeout": timeout}
    headers = {"Accept": "application/x-ndjson"}
    async with (
        ship(instance) as client,
        client.stream("POST", "/python/exec", json=body, headers=headers) as response,
    ):
        response.raise_for_status()
        return [json.loads(line) async for line in response.aiter_lines() if line]


class TestTmpfs:
    async def test_tmp_and_shm_are_at_most_half_the_memory(
        self, victim: Instance, neighbour: Instance
    ) -> None:
        sizes = await sh(victim, "df -B1 --output=size /tmp /dev/shm | tail -n +2")

        assert [int(size) for size in sizes["stdout"].split()] == [SMALL.memory_bytes // 2] * 2
        await assert_still_answers(victim, neighbour)

    async def test_filling_tmp_is_enospc_not_an_oom_kill(
        self, victim: Instance, neighbour: Instance
    ) -> None:
        filled = await sh(victim, "head -c 400M /dev/zero > /tmp/fill", timeout=120)

        assert filled["exit_code"] != 0, filled
        assert "No space left on device" in filled["stderr"], filled
        await assert_still_answers(victim, neighbour)
        await sh(victim, "rm /tmp/fill")


class TestOutputFlood:
    async def test_printing_100_mib_keeps_head_and_tail_and_the_kernel(
        self, victim: Instance, neighbour: Instance
    ) -> None:
        flooded = await py(victim, FLOOD.format(count=100, size=MIB), timeout=120)

        assert flooded["success"] is True, flooded["error"]
        assert flooded["truncated"] is True
        assert flooded["text"].startswith("0" * (OUTPUT_LIMIT // 2))
        assert flooded["text"].endswith("9" * (OUTPUT_LIMIT // 2 - 1))
        dropped = 100 * (MIB + 1) - OUTPUT_LIMIT
        assert f"...[truncated {dropped} bytes]..." in flooded["text"]
        await assert_still_answers(victim, neighbour)

    async def test_a_huge_value_and_display_are_capped_and_the_kernel_lives(
        self, victim: Instance, neighbour: Instance
    ) -> None:
        """30 MB as a cell's value, then as HTML: both reached Ship whole, which in a 256 MiB
        sandbox ran out of memory and took the sandbox with it."""
        value = await py(victim, "'a' * 30_000_000", timeout=120)
        assert value["success"] is True, value
        assert "...[truncated " in value["text"]
        shown = await py(
            victim,
            "from IPython.display import HTML, display\ndisplay(HTML('b' * 30_000_000))",
            timeout=120,
        )
        [bundle] = shown["outputs"]
        assert len(bundle["text/html"]) < 2 * OUTPUT_LIMIT
        await assert_still_answers(victim, neighbour)

    async def test_a_streamed_flood_has_head_marker_and_tail(
        self, victim: Instance, neighbour: Instance
    ) -> None:
        events = await py_events(victim, FLOOD.format(count=100, size=MIB))

        stdout = "".join(e["text"] for e in events if e.get("kind") == "stdout")
        assert stdout.startswith("0" * (OUTPUT_LIMIT // 2))
        assert "...[truncated " in stdout
        assert stdout.endswith("9" * (OUTPUT_LIMIT // 2 - 1) + "\n")
        assert len(stdout) < 2 * OUTPUT_LIMIT
        assert events[-1]["kind"] == "end"
        assert events[-1]["success"] is True
        await assert_still_answers(victim, neighbour)

    async def test_a_subprocess_flood_through_the_kernels_stdout_is_capped(
        self, victim: Instance, neighbour: Instance
    ) -> None:
        code = "import os; os.system('head -c 300M /dev/zero | tr \"\\\\0\" x')"
        flooded = await py(victim, code, timeout=240)

        assert flooded["success"] is True, flooded["error"]
        assert flooded["truncated"] is True
        assert len(flooded["text"]) < 2 * OUTPUT_LIMIT
        await assert_still_answers(victim, neighbour)


class TestForkBomb:
    async def test_a_bomb_that_outlives_its_timeout_dies_with_its_command(
        self, variant: str, victim: Instance, neighbour: Instance
    ) -> None:
        """`timeout` moves the bomb to a group of its own, and its shell exits at once."""
        bomb = f"timeout -s KILL 10 bash -c {shlex.quote(BOMB)}"
        if variant == "docker+runsc":
            # gVisor's Go runtime dies when pids.max stops it making a thread: there the bomb
            # may end the attacker's own sandbox, and must never reach a neighbour.
            with contextlib.suppress(httpx.HTTPError):
                await sh(victim, bomb, timeout=60)
            assert (await sh(neighbour, "echo alive"))["stdout"] == "alive\n"
            assert (await py(neighbour, "1 + 1"))["text"] == "2"
            return
        await sh(victim, bomb, timeout=60)

        await assert_still_answers(victim, neighbour)
        left = await sh(victim, "ps -e --no-headers | wc -l")
        assert int(left["stdout"]) < 10, left
