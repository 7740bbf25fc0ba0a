"""The request builder: one `Call` per Bay endpoint, shared by `AsyncClient` and `Client`."""

import uuid
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO, Literal
from urllib.parse import quote

import httpx

from shipyard._requests import Call, checked, model, nothing
from shipyard_protocol import api, ship

EXEC_MARGIN = 10.0  # seconds Bay may add around an exec's own timeout (cold start aside)
EVENTS = {"Accept": "text/event-stream"}
STARTS = "a sandbox's compute starts first when it is not running"


def _finish(what: str, timeout: float) -> str:
    """What an exec's call waits for, in the debug log."""
    return f"{what} to finish (up to {timeout:g} s; {STARTS})"


Tags = str | Iterable[str]
LogStream = Literal["stdout", "stderr"]


def _text(response: httpx.Response) -> str:
    return model(api.FileContent)(response).content


def _entries(response: httpx.Response) -> list[api.FileInfo]:
    return model(api.DirectoryList)(response).entries


def _segment(value: str) -> str:
    return quote(value, safe="")


def _sandbox(sandbox_id: str, rest: str = "") -> str:
    return f"/v1/sandboxes/{_segment(sandbox_id)}{rest}"


def _idempotency(key: str | None) -> dict[str, str]:
    return {"Idempotency-Key": key or uuid.uuid4().hex}


def _tags(tags: Tags | None) -> str | None:
    if tags is None or isinstance(tags, str):
        return tags
    return ",".join(tags)


def _query(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}


def health() -> Call[api.Health]:
    return Call("GET", "/health", model(api.Health))


def create_sandbox(idempotency_key: str | None, **fields: Any) -> Call[api.Sandbox]:
    """`fields` as `SandboxCreate` names them (profile, ttl, cargo_id, network, metadata, env);
    an empty mapping is sent as none."""
    sent = {k: dict(v) or None if isinstance(v, Mapping) else v for k, v in fields.items()}
    body = checked(api.SandboxCreate, **sent)
    return Call(
        "POST",
        "/v1/sandboxes",
        model(api.Sandbox),
        json=body.model_dump(exclude_none=True),
        headers=_idempotency(idempotency_key),
    )


def list_sandboxes(
    limit: int, cursor: str | None, status: str | None, metadata: Mapping[str, str] | None = None
) -> Call[api.SandboxList]:
    params = _query(limit=limit, cursor=cursor, status=status)
    params.update({f"metadata.{key}": value for key, value in (metadata or {}).items()})
    return Call("GET", "/v1/sandboxes", model(api.SandboxList), params=params)


def get_sandbox(sandbox_id: str) -> Call[api.Sandbox]:
    return Call("GET", _sandbox(sandbox_id), model(api.Sandbox))


def extend_ttl(sandbox_id: str, seconds: int, idempotency_key: str | None) -> Call[api.Sandbox]:
    body = checked(api.TTLExtend, extend_by=seconds).model_dump()
    headers = _idempotency(idempotency_key)
    return Call(
        "POST", _sandbox(sandbox_id, "/extend_ttl"), model(api.Sandbox), body, headers=headers
    )


def keepalive(sandbox_id: str) -> Call[None]:
    return Call("POST", _sandbox(sandbox_id, "/keepalive"), nothing)


def port_url(sandbox_id: str, port: int, expires_in: int) -> Call[api.PortUrl]:
    body = api.PortUrlCreate(expires_in=expires_in).model_dump()
    return Call("POST", _sandbox(sandbox_id, f"/ports/{port}/url"), model(api.PortUrl), body)


def stop_sandbox(sandbox_id: str) -> Call[None]:
    return Call("POST", _sandbox(sandbox_id, "/stop"), nothing)


def delete_sandbox(sandbox_id: str) -> Call[None]:
    return Call("DELETE", _sandbox(sandbox_id), nothing)


def run_python(
    sandbox_id: str,
    code: str,
    *,
    timeout: int,
    include_code: bool,
    description: str | None,
    tags: Tags | None,
) -> Call[api.PythonExecResult]:
    body = checked(
        api.PythonExec,
        code=code,
        timeout=timeout,
        include_code=include_code,
        description=description,
        tags=_tags(tags),
    )
    return Call(
        "POST",
        _sandbox(sandbox_id, "/python/exec"),
        model(api.PythonExecResult),
        json=body.model_dump(exclude_none=True),
        read_timeout=timeout + EXEC_MARGIN,
        waits_for=_finish("the Python code", timeout),
    )


def run_shell(
    sandbox_id: str,
    command: str,
    *,
    timeout: int,
    cwd: str | None,
    include_code: bool,
    description: str | None,
    tags: Tags | None,
) -> Call[api.ShellExecResult]:
    body = checked(
        api.ShellExec,
        command=command,
        timeout=timeout,
        cwd=cwd,
        include_code=include_code,
        description=description,
        tags=_tags(tags),
    )
    return Call(
        "POST",
        _sandbox(sandbox_id, "/shell/exec"),
        model(api.ShellExecResult),
        json=body.model_dump(exclude_none=True),
        read_timeout=timeout + EXEC_MARGIN,
        waits_for=_finish("the shell command", timeout),
    )


def read_file(sandbox_id: str, path: str) -> Call[str]:
    return Call("GET", _sandbox(sandbox_id, "/filesystem/files"), _text, params={"path": path})


def write_file(sandbox_id: str, path: str, content: str) -> Call[None]:
    body = checked(api.FileWrite, path=path, content=content).model_dump()
    return Call("PUT", _sandbox(sandbox_id, "/filesystem/files"), nothing, json=body)


def list_files(sandbox_id: str, path: str) -> Call[list[api.FileInfo]]:
    url = _sandbox(sandbox_id, "/filesystem/directories")
    return Call("GET", url, _entries, params={"path": path})


def delete_file(sandbox_id: str, path: str) -> Call[None]:
    return Call("DELETE", _sandbox(sandbox_id, "/filesystem/files"), nothing, params={"path": path})


def upload_file(sandbox_id: str, path: str, stream: BinaryIO) -> Call[api.UploadResult]:
    url = _sandbox(sandbox_id, "/filesystem/upload")
    return Call("POST", url, model(api.UploadResult), form={"path": path}, upload=stream)


def download_file(sandbox_id: str, path: str) -> Call[None]:
    url = _sandbox(sandbox_id, "/filesystem/download")
    return Call("GET", url, nothing, params={"path": path})


def list_history(
    sandbox_id: str,
    *,
    exec_type: str | None,
    success_only: bool,
    limit: int,
    offset: int,
    tags: Tags | None,
    has_notes: bool,
    has_description: bool,
) -> Call[api.ExecutionList]:
    params = _query(
        exec_type=exec_type,
        success_only=success_only,
        limit=limit,
        offset=offset,
        tags=_tags(tags),
        has_notes=has_notes,
        has_description=has_description,
    )
    return Call("GET", _sandbox(sandbox_id, "/history"), model(api.ExecutionList), params=params)


def last_execution(sandbox_id: str, exec_type: str | None) -> Call[api.ExecutionEntry]:
    params = _query(exec_type=exec_type)
    return Call(
        "GET", _sandbox(sandbox_id, "/history/last"), model(api.ExecutionEntry), params=params
    )


def get_execution(sandbox_id: str, execution_id: str) -> Call[api.ExecutionEntry]:
    url = _sandbox(sandbox_id, f"/history/{_segment(execution_id)}")
    return Call("GET", url, model(api.ExecutionEntry))


def annotate_execution(
    sandbox_id: str,
    execution_id: str,
    *,
    description: str | None,
    tags: Tags | None,
    notes: str | None,
) -> Call[api.ExecutionEntry]:
    body = checked(api.ExecutionUpdate, description=description, tags=_tags(tags), notes=notes)
    url = _sandbox(sandbox_id, f"/history/{_segment(execution_id)}")
    json = body.model_dump(exclude_none=True)
    return Call("PATCH", url, model(api.ExecutionEntry), json=json)


def create_cargo(size_limit_mb: int | None, idempotency_key: str | None) -> Call[api.Cargo]:
    # No body at all when nothing is asked for, as the upstream SDK sends.
    body = None if size_limit_mb is None else {"size_limit_mb": size_limit_mb}
    headers = _idempotency(idempotency_key)
    return Call("POST", "/v1/cargos", model(api.Cargo), json=body, headers=headers)


def list_cargos(limit: int, cursor: str | None, managed: bool | None) -> Call[api.CargoList]:
    params = _query(limit=limit, cursor=cursor, managed=managed)
    return Call("GET", "/v1/cargos", model(api.CargoList), params=params)


def get_cargo(cargo_id: str) -> Call[api.Cargo]:
    return Call("GET", f"/v1/cargos/{_segment(cargo_id)}", model(api.Cargo))


def delete_cargo(cargo_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/cargos/{_segment(cargo_id)}", nothing)


def list_profiles(detail: bool) -> Call[api.ProfileList]:
    return Call("GET", "/v1/profiles", model(api.ProfileList), params={"detail": detail})


def create_key(owner: str, admin: bool) -> Call[api.KeyCreated]:
    body = checked(api.KeyCreate, owner=owner, admin=admin).model_dump()
    return Call("POST", "/v1/admin/keys", model(api.KeyCreated), json=body)


def list_keys() -> Call[api.KeyList]:
    return Call("GET", "/v1/admin/keys", model(api.KeyList))


def revoke_key(key_id: str) -> Call[None]:
    return Call("DELETE", f"/v1/admin/keys/{_segment(key_id)}", nothing)


def run_gc(tasks: list[str] | None) -> Call[api.GcRunResult]:
    body = checked(api.GcRun, tasks=tasks).model_dump()
    return Call("POST", "/v1/admin/gc/run", model(api.GcRunResult), json=body)


def gc_status() -> Call[api.GcStatus]:
    return Call("GET", "/v1/admin/gc/status", model(api.GcStatus))


def as_events(plain: Call[Any]) -> Call[None]:
    """The same exec answered as Server-Sent Events. Bay's heartbeats keep a quiet stream
    within the client's read timeout, so a silent connection is a dead one (and resumed)."""
    waits_for = f"the run's first event ({STARTS})"
    return Call(
        plain.method, plain.url, nothing, json=plain.json, headers=EVENTS, waits_for=waits_for
    )


def execution_events(sandbox_id: str, execution_id: str, after: int) -> Call[None]:
    url = _sandbox(sandbox_id, f"/executions/{_segment(execution_id)}/events")
    waits_for = f"the events of {execution_id} after event {after}"
    return Call("GET", url, nothing, params={"after": after}, headers=EVENTS, waits_for=waits_for)


def execution_status(sandbox_id: str, execution_id: str) -> Call[api.ExecutionStatus]:
    url = _sandbox(sandbox_id, f"/executions/{_segment(execution_id)}")
    return Call("GET", url, model(api.ExecutionStatus))


def interrupt_kernel(sandbox_id: str) -> Call[api.KernelControl]:
    return Call("POST", _sandbox(sandbox_id, "/python/interrupt"), model(api.KernelControl))


def restart_kernel(sandbox_id: str) -> Call[api.KernelControl]:
    url = _sandbox(sandbox_id, "/python/restart")
    return Call("POST", url, model(api.KernelControl), waits_for="a new Python kernel to start")


def _process(sandbox_id: str, process_id: str | None = None, rest: str = "") -> str:
    tail = "" if process_id is None else f"/{_segment(process_id)}{rest}"
    return _sandbox(sandbox_id, f"/processes{tail}")


def start_process(
    sandbox_id: str, command: str, cwd: str | None, env: dict[str, str] | None
) -> Call[ship.ProcessInfo]:
    body = checked(api.ProcessCreate, command=command, cwd=cwd, env=env or {})
    json = body.model_dump(exclude_none=True)
    waits_for = f"the process to start ({STARTS})"
    return Call(
        "POST", _process(sandbox_id), model(ship.ProcessInfo), json=json, waits_for=waits_for
    )


def list_processes(sandbox_id: str) -> Call[list[ship.ProcessInfo]]:
    return Call("GET", _process(sandbox_id), _processes)


def _processes(response: httpx.Response) -> list[ship.ProcessInfo]:
    return model(ship.ProcessList)(response).processes


def get_process(sandbox_id: str, process_id: str) -> Call[ship.ProcessInfo]:
    return Call("GET", _process(sandbox_id, process_id), model(ship.ProcessInfo))


def process_logs(
    sandbox_id: str, process_id: str, stream: LogStream, offset: int, limit: int | None
) -> Call[ship.ProcessLogs]:
    params = _query(stream=stream, offset=offset, limit=limit)
    url = _process(sandbox_id, process_id, "/logs")
    return Call("GET", url, model(ship.ProcessLogs), params=params)


def wait_process(sandbox_id: str, process_id: str, timeout: float) -> Call[ship.ProcessInfo]:
    url = _process(sandbox_id, process_id, "/wait")
    return Call(
        "POST",
        url,
        model(ship.ProcessInfo),
        params={"timeout": timeout},
        read_timeout=timeout + EXEC_MARGIN,
        waits_for=f"process {process_id} to exit (up to {timeout:g} s)",
    )


def signal_process(sandbox_id: str, process_id: str, signal: str) -> Call[ship.ProcessInfo]:
    body = checked(api.ProcessSignalRequest, signal=signal).model_dump()
    url = _process(sandbox_id, process_id, "/signal")
    return Call("POST", url, model(ship.ProcessInfo), json=body)


def kill_process(sandbox_id: str, process_id: str) -> Call[ship.ProcessInfo]:
    return Call("DELETE", _process(sandbox_id, process_id), model(ship.ProcessInfo))


def terminal_path(sandbox_id: str, cols: int, rows: int) -> tuple[str, dict[str, int]]:
    """The terminal's WebSocket path and query; the client adds its base URL and key."""
    return _sandbox(sandbox_id, "/terminal"), {"cols": cols, "rows": rows}


def tunnel_path(sandbox_id: str, port: int) -> str:
    """The WebSocket path of a raw TCP stream to a sandbox port (`shipyard port-forward`)."""
    return _sandbox(sandbox_id, f"/tunnels/{port}")
