"""POST /python/exec against a real IPython kernel."""

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from ship import kernel_process
from ship.events import NDJSON
from shipyard_protocol.ship import DEFAULT_OUTPUT_LIMIT

from .conftest import StartShip

TINY_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJ"
    "AAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
IGNORE_INTERRUPTS = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"


async def run(client: httpx.AsyncClient, code: str, timeout: float = 30) -> dict[str, Any]:
    response = await client.post("/python/exec", json={"code": code, "timeout": timeout})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestExecute:
    async def test_variables_persist_between_calls(self, client: httpx.AsyncClient) -> None:
        await run(client, "x = 41")

        outcome = await run(client, "x + 1")

        assert outcome["success"] is True
        assert outcome["text"] == "42"
        assert outcome["execution_count"] == 2

    @pytest.mark.asyncio(loop_scope="module")
    async def test_print_output_is_stripped(self, shared_client: httpx.AsyncClient) -> None:
        outcome = await run(shared_client, "print('  hello  ')\nprint()")

        assert outcome["text"] == "hello"

    @pytest.mark.asyncio(loop_scope="module")
    async def test_stdout_then_stderr_then_result(self, shared_client: httpx.AsyncClient) -> None:
        code = "import sys\nsys.stderr.write('err\\n')\nprint('out')\n7"

        outcome = await run(shared_client, code)

        assert outcome["text"] == "out\nerr\n7"

    @pytest.mark.asyncio(loop_scope="module")
    async def test_exception_is_reported_as_data(self, shared_client: httpx.AsyncClient) -> None:
        outcome = await run(shared_client, "1 / 0")

        assert outcome["success"] is False
        assert outcome["error"]["name"] == "ZeroDivisionError"
        assert outcome["error"]["value"] == "division by zero"
        assert any("ZeroDivisionError" in line for line in outcome["error"]["traceback"])
        assert not any("\x1b[" in line for line in outcome["error"]["traceback"])

    @pytest.mark.asyncio(loop_scope="module")
    async def test_png_display_goes_to_outputs(self, shared_client: httpx.AsyncClient) -> None:
        code = (
            "import base64\nfrom IPython.display import Image, display\n"
            f"display(Image(data=base64.b64decode({TINY_PNG!r})))"
        )

        outcome = await run(shared_client, code)

        assert outcome["success"] is True
        [bundle] = outcome["outputs"]
        assert base64.b64decode(bundle["image/png"]) == base64.b64decode(TINY_PNG)

    async def test_long_output_is_truncated(self, start_ship: StartShip) -> None:
        async with start_ship(output_limit=1000) as client:
            outcome = await run(client, "print('A' * 5000 + 'Z' * 5000)")

        assert outcome["truncated"] is True
        assert outcome["text"].startswith("A" * 500)
        assert outcome["text"].endswith("Z" * 499)
        assert "...[truncated 9001 bytes]..." in outcome["text"]

    async def test_a_flood_is_dropped_in_the_kernel_and_streamed_as_head_marker_tail(
        self, start_ship: StartShip
    ) -> None:
        code = "for _ in range(100): print('A' * 50)\nfor _ in range(100): print('Z' * 50)"
        body, headers = {"code": code}, {"Accept": NDJSON}
        async with start_ship(output_limit=1000) as client:
            response = await client.post("/python/exec", json=body, headers=headers)
        events = [json.loads(line) for line in response.text.splitlines()]

        stdout = "".join(event["text"] for event in events if event.get("kind") == "stdout")
        head, tail = ("A" * 50 + "\n") * 9 + "A" * 41, "Z" * 40 + ("\n" + "Z" * 50) * 9 + "\n"
        assert stdout == head + "\n...[truncated 9200 bytes]...\n" + tail

    async def test_a_cut_never_splits_a_character_and_the_count_is_in_bytes(
        self, start_ship: StartShip
    ) -> None:
        async with start_ship(output_limit=1000) as client:
            outcome = await run(client, "print('\u00e9' * 5000)")

        head, tail = "\u00e9" * 250, "\u00e9" * 249  # 500 and 498 bytes, the newline stripped
        assert outcome["text"] == head + "\n...[truncated 9002 bytes]...\n" + tail

    async def test_a_huge_value_is_capped_in_the_kernel_which_lives_on(
        self, start_ship: StartShip
    ) -> None:
        """30 MB of repr used to reach Ship whole (a 256 MB sandbox's Ship died of it)."""
        async with start_ship(output_limit=1000) as client:
            outcome = await run(client, "'A' * 15_000_000 + 'Z' * 15_000_000")
            after = await run(client, "print(6 * 7)")
        text = outcome["text"]
        assert text.startswith("'" + "A" * 499)
        assert text.endswith("Z" * 499 + "'")
        assert "...[truncated" in text
        assert len(text) < 2000  # Ship cuts the kernel's head, marker and tail to its limit
        assert after["text"] == "42"

    async def test_huge_display_data_is_capped_text_kept_binary_left_out(
        self, start_ship: StartShip
    ) -> None:
        code = (
            "from IPython.display import display, HTML\n"
            "display(HTML('<p>' + 'x' * 100_000))\n"
            "display({'image/png': 'QUJD' * 50_000, 'text/plain': 'a chart'}, raw=True)"
        )
        async with start_ship(output_limit=1000) as client:
            outcome = await run(client, code)
        [html] = outcome["outputs"]  # the image's bundle, left with text only, is text
        assert html["text/html"].startswith("<p>xxx")
        assert "...[truncated" in html["text/html"]
        assert len(html["text/html"]) < 2000
        assert outcome["text"] == (
            "a chart\n[image/png of 200000 characters left out: past the output limit of 1000]"
        )


def test_the_kernels_default_output_limit_is_the_protocols() -> None:
    assert kernel_process.DEFAULT_OUTPUT_LIMIT == DEFAULT_OUTPUT_LIMIT


class TestTimeout:
    async def test_busy_loop_times_out_and_kernel_stays_usable(
        self, client: httpx.AsyncClient
    ) -> None:
        timed_out = await run(client, "while True: pass", timeout=1)
        after = await run(client, "1 + 1")

        assert timed_out["success"] is False
        assert timed_out["timed_out"] is True
        assert timed_out["error"]["name"] == "TimeoutError"
        assert timed_out["error"]["value"] == "Code execution timed out after 1 seconds"
        assert after["text"] == "2"

    async def test_interrupted_run_keeps_variables(self, client: httpx.AsyncClient) -> None:
        await run(client, "kept = 'yes'")
        timed_out = await run(client, "import time\ntime.sleep(30)", timeout=0.5)
        after = await run(client, "kept")

        assert timed_out["kernel_generation"] == 1
        assert timed_out["kernel_restarted"] is False
        assert after["text"] == "'yes'"
        assert after["kernel_restarted"] is False

    async def test_late_print_does_not_leak_into_next_run(self, client: httpx.AsyncClient) -> None:
        code = (
            "import time\ntry:\n    time.sleep(30)\n"
            "except KeyboardInterrupt:\n    time.sleep(0.3)\n    print('late')"
        )
        timed_out = await run(client, code, timeout=0.5)
        after = await run(client, "print('next')")

        assert timed_out["timed_out"] is True
        assert "late" in timed_out["text"]
        assert after["text"] == "next"

    async def test_ignored_interrupt_restarts_the_kernel(self, start_ship: StartShip) -> None:
        code = (
            IGNORE_INTERRUPTS + "while True:\n    print('late', flush=True)\n    time.sleep(0.01)"
        )
        async with start_ship(interrupt_grace=0.3) as client:
            timed_out = await run(client, code, timeout=0.5)
            after = await run(client, "print('next')")

        assert timed_out["timed_out"] is True
        assert timed_out["kernel_generation"] == 2
        assert timed_out["kernel_restarted"] is True
        assert after["text"] == "next"
        assert after["kernel_generation"] == 2


async def test_workspace_modules_import_but_never_shadow_the_kernels_own(
    start_ship: StartShip, workspace: Path
) -> None:
    """A user's json.py or ship/ package must not break the kernel's start; their own modules
    still import, after the standard library."""
    (workspace / "json.py").write_text("raise SystemExit('shadowed json')\n")
    (workspace / "ship").mkdir()
    (workspace / "ship" / "__init__.py").write_text("raise SystemExit('shadowed ship')\n")
    (workspace / "mymod.py").write_text("ANSWER = 42\n")
    async with start_ship(workspace=workspace) as client:
        body = await run(client, "import mymod, json\nprint(mymod.ANSWER, json.dumps([1]))")

    assert body["success"] is True, body
    assert body["text"] == "42 [1]"


async def test_kernel_that_cannot_start_is_a_json_500(
    start_ship: StartShip, tmp_path: Path
) -> None:
    async with start_ship(workspace=tmp_path / "missing") as client:
        response = await client.post("/python/exec", json={"code": "1"})

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "did not start" in response.json()["error"]["message"]


class TestGenerations:
    async def test_first_kernel_is_generation_one(self, client: httpx.AsyncClient) -> None:
        first = await run(client, "a = 1")
        second = await run(client, "a")
        health = (await client.get("/health")).json()

        assert (first["kernel_generation"], first["kernel_restarted"]) == (1, False)
        assert (second["kernel_generation"], second["kernel_restarted"]) == (1, False)
        assert health["kernel_generation"] == 1

    async def test_kernel_death_is_reported_and_recovered(self, client: httpx.AsyncClient) -> None:
        await run(client, "lost = 1")
        died = await run(client, "import os\nos.kill(os.getpid(), 9)")
        after = await run(client, "'lost' in globals()")

        assert died["success"] is False
        assert died["error"]["name"] == "KernelDiedError"
        assert "killed by signal 9 (SIGKILL)" in died["error"]["value"]
        assert (died["kernel_generation"], died["kernel_restarted"]) == (2, True)
        assert after["text"] == "False"
        assert (after["kernel_generation"], after["kernel_restarted"]) == (2, True)


class TestKernelDeath:
    """The error says how the kernel ended; "out of memory" only when the cgroup counted it."""

    async def test_exit_is_reported_with_its_code(
        self, start_ship: StartShip, tmp_path: Path
    ) -> None:
        counter = tmp_path / "memory.events"
        counter.write_text("oom 0\noom_kill 0\n")
        async with start_ship(oom_counters=(counter,)) as client:
            died = await run(client, "import os\nos._exit(1)")

        assert died["error"]["value"] == (
            "The python kernel exited with code 1; its variables are lost."
        )

    async def test_sigkill_alone_is_not_out_of_memory(
        self, start_ship: StartShip, tmp_path: Path
    ) -> None:
        counter = tmp_path / "memory.events"
        counter.write_text("oom 0\noom_kill 0\n")
        async with start_ship(oom_counters=(counter,)) as client:
            died = await run(client, "import os\nos.kill(os.getpid(), 9)")

        assert died["error"]["value"] == (
            "The python kernel was killed by signal 9 (SIGKILL); its variables are lost."
        )

    async def test_sigkill_the_cgroup_counted_is_out_of_memory(
        self, start_ship: StartShip, tmp_path: Path
    ) -> None:
        counter = tmp_path / "memory.oom_control"
        counter.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
        # What the OOM killer does, as the cgroup tells it: the count grows, then SIGKILL.
        oom = f"import os\nopen({str(counter)!r}, 'w').write('oom_kill 4\\n')\n"
        oom += "os.kill(os.getpid(), 9)"
        async with start_ship(oom_counters=(tmp_path / "missing", counter)) as client:
            died = await run(client, oom)

        assert died["error"]["value"] == (
            "The python kernel was killed by signal 9 (SIGKILL): the sandbox ran out of memory "
            "(its memory limit); its variables are lost."
        )


async def test_kernel_runs_in_the_workspace_and_leaves_it_clean(
    start_ship: StartShip, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(workspace))
    async with start_ship() as client:
        outcome = await run(client, "import os\nprint(os.getcwd())")

    assert outcome["text"] == str(workspace)
    assert list(workspace.iterdir()) == []
