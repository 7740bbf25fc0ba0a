"""`sandbox.python` and `sandbox.shell`, on Bay in-process."""

import pytest

from shipyard import AsyncClient, CapabilityNotSupportedError, InvalidPathError


class TestPython:
    async def test_variables_persist_and_failures_are_data(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        await sandbox.python.run("x = 41")
        ran = await sandbox.python.run("print(x + 1)", include_code=True, tags=["a", "b"])
        assert (ran.success, ran.output, ran.code) == (True, "42", "print(x + 1)")
        failed = await sandbox.python.run("1 / 0")
        assert failed.success is False
        assert "ZeroDivisionError" in (failed.error or "")


class TestShell:
    async def test_exit_code_and_stderr(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        result = await sandbox.shell.run("echo out; echo err >&2; exit 3")
        assert (result.success, result.exit_code, result.output) == (False, 3, "out")
        assert result.error == "err"

    async def test_runs_in_cwd(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        await sandbox.files.write("sub/marker", "")
        assert (await sandbox.shell.run("ls", cwd="sub")).output == "marker"

    async def test_bad_cwd_raises_invalid_path(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create()
        with pytest.raises(InvalidPathError) as caught:
            await sandbox.shell.run("pwd", cwd="/etc")
        assert caught.value.details["reason"] == "absolute_path"

    async def test_missing_capability_raises(self, aclient: AsyncClient) -> None:
        sandbox = await aclient.sandboxes.create("python-only")
        with pytest.raises(CapabilityNotSupportedError) as caught:
            await sandbox.shell.run("true")
        assert caught.value.details["capability"] == "shell"
