"""`sandbox.processes`: detached commands, their logs by offset, wait, signals and kill."""

import pytest

from shipyard import AsyncClient, Client, NotFoundError


class TestStartAndLogs:
    async def test_start_list_get_and_read_logs(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        started = await sandbox.processes.start(
            "echo $GREETING; echo oops >&2", env={"GREETING": "hi"}
        )
        assert started.process_id.startswith("proc-")
        done = await sandbox.processes.wait(started.process_id, timeout=10)
        assert (done.state, done.exit_code) == ("exited", 0)
        assert [p.process_id for p in await sandbox.processes.list()] == [started.process_id]
        assert (await sandbox.processes.get(started.process_id)).command == started.command
        out = await sandbox.processes.logs(started.process_id)
        assert (out.data, out.next_offset, out.eof) == ("hi\n", 3, True)
        err = await sandbox.processes.logs(started.process_id, stream="stderr", offset=2)
        assert err.data == "ps\n"

    async def test_follow_yields_until_exit(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        started = await sandbox.processes.start("echo one; sleep 0.3; echo two", cwd=".")
        chunks = [c async for c in sandbox.processes.follow(started.process_id, poll=0.05)]
        assert "".join(chunks) == "one\ntwo\n"


class TestSignals:
    async def test_signal_then_kill_forgets_it(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        started = await sandbox.processes.start("sleep 60")
        await sandbox.processes.signal(started.process_id, "TERM")
        ended = await sandbox.processes.wait(started.process_id, timeout=10)
        assert ended.state == "exited"
        killed = await sandbox.processes.kill(started.process_id)
        assert killed.process_id == started.process_id
        with pytest.raises(NotFoundError):
            await sandbox.processes.get(started.process_id)


def test_sync_client_runs_processes(client: Client) -> None:
    with client.sandboxes.create() as sandbox:
        started = sandbox.processes.start("printf 'a\\nb\\n'")
        assert "".join(sandbox.processes.follow(started.process_id, poll=0.05)) == "a\nb\n"
        assert sandbox.processes.kill(started.process_id).state == "exited"
