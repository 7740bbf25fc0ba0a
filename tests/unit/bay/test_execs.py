"""Python and shell execution through Bay."""

from pathlib import Path

import pytest

from tests.unit.bay.conftest import AUTH, Bay, make_settings, start_bay


async def run_python(bay: Bay, sandbox_id: str, code: str, **extra: object) -> dict[str, object]:
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": code, **extra}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def run_shell(bay: Bay, sandbox_id: str, command: str, **extra: object) -> dict[str, object]:
    response = await bay.client.post(
        f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": command, **extra}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


class TestPython:
    async def test_variables_persist_across_calls(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        await run_python(bay, sandbox_id, "x = 41")
        result = await run_python(bay, sandbox_id, "x + 1")
        assert result["success"] is True
        assert result["output"] == "42"
        assert str(result["execution_id"]).startswith("exec-")

    async def test_exception_is_data_not_an_error(self, bay: Bay) -> None:
        result = await run_python(bay, await bay.sandbox(), "1/0")
        assert result["success"] is False
        assert "ZeroDivisionError" in str(result["error"])

    async def test_include_code_echoes_the_code(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        assert (await run_python(bay, sandbox_id, "1"))["code"] is None
        assert (await run_python(bay, sandbox_id, "1", include_code=True))["code"] == "1"

    async def test_timeout_answers_200_and_kernel_survives(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        result = await run_python(bay, sandbox_id, "while True: pass", timeout=1)
        assert result["success"] is False
        assert "timed out" in str(result["error"])
        assert (await run_python(bay, sandbox_id, "2 + 2"))["output"] == "4"

    async def test_each_rich_output_is_answered_once(self, bay: Bay) -> None:
        """Images where the contract puts them (`data.output.images`), other rich outputs in
        `outputs`; an image's bytes never twice."""
        code = (
            "from IPython.display import display, HTML, Image\n"
            "display(Image(data=b'\\x89PNG\\r\\n\\x1a\\n' + b'0' * 64, format='png'))\n"
            "display(HTML('<b>hi</b>'))\n"
            "print('text')"
        )
        result = await run_python(bay, await bay.sandbox(), code)
        output = dict(result["data"])["output"]  # type: ignore[call-overload]
        assert output["text"] == result["output"] == "text"
        [image] = output["images"]
        [rich] = output["outputs"]
        assert set(image) >= {"image/png"}
        assert "text/html" in rich
        assert "image/png" not in rich
        assert str(result).count(image["image/png"]) == 1

    async def test_outputs_is_absent_without_rich_output(self, bay: Bay) -> None:
        result = await run_python(bay, await bay.sandbox(), "print(1)")
        assert dict(result["data"])["output"] == {"text": "1", "images": []}  # type: ignore[call-overload]

    async def test_timeout_out_of_range_is_422(self, bay: Bay) -> None:
        response = await bay.client.post(
            f"/v1/sandboxes/{await bay.sandbox()}/python/exec",
            json={"code": "1", "timeout": 301},
            headers=AUTH,
        )
        assert response.status_code == 422


class TestShell:
    async def test_stdout_exit_code_and_stderr(self, bay: Bay) -> None:
        result = await run_shell(bay, await bay.sandbox(), "echo out; echo err >&2; exit 3")
        assert result["output"] == "out", result
        assert result["error"] == "err"
        assert result["exit_code"] == 3
        assert result["success"] is False

    async def test_cwd_is_validated_and_normalised(self, bay: Bay) -> None:
        sandbox_id = await bay.sandbox()
        await run_shell(bay, sandbox_id, "mkdir -p sub/x")
        assert str((await run_shell(bay, sandbox_id, "pwd", cwd="sub/y/../x"))["output"]).endswith(
            "/sub/x"
        )
        response = await bay.client.post(
            f"/v1/sandboxes/{sandbox_id}/shell/exec",
            json={"command": "pwd", "cwd": "../etc"},
            headers=AUTH,
        )
        assert response.status_code == 400
        assert response.json()["error"]["details"] == {"field": "cwd", "reason": "path_traversal"}

    async def test_timeout_is_200_with_exit_code_minus_one(self, bay: Bay) -> None:
        result = await run_shell(bay, await bay.sandbox(), "sleep 30", timeout=1)
        assert result["success"] is False
        assert result["exit_code"] == -1
        assert result["error"] == "Command timed out"

    async def test_output_is_capped_with_a_marker(self, tmp_path: Path) -> None:
        settings = make_settings(tmp_path, ship={"output_limit_bytes": 1000})
        async with start_bay(settings) as bay:
            result = await run_shell(bay, await bay.sandbox(), "seq 1 100000")
            output = str(result["output"])
            assert result["truncated"] is True
            assert output.startswith("1\n2\n")
            assert output.endswith("100000")
            assert "truncated" in output
            assert len(output) < 1200


class TestCapabilities:
    @pytest.mark.parametrize(
        ("path", "body"),
        [("shell/exec", {"command": "true"}), ("filesystem/files?path=a", None)],
    )
    async def test_missing_capability_is_400(
        self, bay: Bay, path: str, body: dict[str, str] | None
    ) -> None:
        sandbox_id = await bay.sandbox(profile="python-only")
        url = f"/v1/sandboxes/{sandbox_id}/{path}"
        call = (
            bay.client.post(url, json=body, headers=AUTH)
            if body
            else bay.client.get(url, headers=AUTH)
        )
        response = await call
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "capability_not_supported"
        assert error["details"]["available"] == ["python"]
