"""Metadata and env given at create, through a real Bay on the local driver: labels returned
and filterable, env seen by the shell, the kernel, processes and the terminal, never shown
back; a warm sandbox is claimed only when it can honour the create."""

import time
import uuid
from collections.abc import Iterator

import pytest

import shipyard
from tests.bay_process import API_KEY, BayProcess, clean_up, local_driver_missing, traversable_tmp

pytestmark = [pytest.mark.local, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def bay() -> Iterator[BayProcess]:
    reason = local_driver_missing()
    if reason is not None:
        pytest.skip(f"local driver: {reason}")
    profiles = [{"id": "python-default", "env": {"FROM_PROFILE": "p", "SHARED": "profile"}},
                {"id": "warm", "warm_pool_size": 1}]  # fmt: skip
    with traversable_tmp() as base:
        server = BayProcess(base / "data", {"gc": {"enabled": False}, "profiles": profiles})
        server.start()
        try:
            yield server
        finally:
            clean_up(server)


@pytest.fixture
def client(bay: BayProcess) -> Iterator[shipyard.Client]:
    with shipyard.Client(endpoint=bay.url, api_key=API_KEY, timeout=300) as made:
        yield made


def test_env_reaches_shell_kernel_processes_and_terminal_and_is_never_shown(
    client: shipyard.Client,
) -> None:
    secret = uuid.uuid4().hex
    sandbox = client.sandboxes.create(env={"TOKEN": secret, "SHARED": "create"})
    shell = sandbox.shell.run('echo "$TOKEN $FROM_PROFILE $SHARED"')
    assert shell.output.strip() == f"{secret} p create"
    kernel = sandbox.python.run("import os; print(os.environ['TOKEN'])")
    assert kernel.output.strip() == secret
    started = sandbox.processes.start("printenv TOKEN")
    sandbox.processes.wait(started.process_id, timeout=60)
    assert sandbox.processes.logs(started.process_id).data.strip() == secret
    with sandbox.terminal() as terminal:
        terminal.send("echo T=$TOKEN\r")
        seen = b""
        deadline = time.monotonic() + 60
        while f"T={secret}".encode() not in seen and time.monotonic() < deadline:
            seen += terminal.recv()
    assert f"T={secret}".encode() in seen
    shown = client.sandboxes.get(sandbox.id).info.model_dump_json()
    assert secret not in shown


def test_metadata_is_returned_and_filters_the_list(client: shipyard.Client) -> None:
    team = uuid.uuid4().hex[:8]
    ours = client.sandboxes.create(metadata={"team": team, "stage": "dev"})
    client.sandboxes.create(metadata={"team": team, "stage": "prod"})
    client.sandboxes.create()
    assert client.sandboxes.get(ours.id).info.metadata == {"team": team, "stage": "dev"}
    both = client.sandboxes.list(metadata={"team": team}, limit=200).items
    dev = client.sandboxes.list(metadata={"team": team, "stage": "dev"}, limit=200).items
    assert len(both) == 2
    assert [item.id for item in dev] == [ours.id]


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("env", {"SHIP_SOCKET": "/tmp/x"}, "Shipyard's"),
        ("env", {"1BAD": "x"}, "not an environment variable name"),
        ("env", {"A": "x\x00y"}, "NUL"),
        ("metadata", {f"k{i}": "v" for i in range(33)}, "at most 32"),
        ("metadata", {"k": "v" * 513}, "at most 512"),
        ("metadata", {"bad key": "v"}, "metadata key"),
    ],
)
def test_bad_metadata_and_env_are_refused(
    client: shipyard.Client, field: str, value: dict[str, str], said: str
) -> None:
    with pytest.raises(shipyard.ShipyardError, match=said):
        client.sandboxes.create(**{field: value})  # type: ignore[arg-type]


def test_a_warm_sandbox_takes_metadata_but_not_env(
    bay: BayProcess, client: shipyard.Client
) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # the pool fills in the background
        with bay.client() as admin:
            pool = admin.get("/v1/admin/gc/status").json()["warm_pool"]
        if pool["profiles"]["warm"]["available"] >= 1:
            break
        time.sleep(0.5)
    hits = pool["hits"]
    labelled = client.sandboxes.create("warm", metadata={"k": "v"})
    assert labelled.info.metadata == {"k": "v"}
    with bay.client() as admin:
        assert admin.get("/v1/admin/gc/status").json()["warm_pool"]["hits"] == hits + 1
    with_env = client.sandboxes.create("warm", env={"ONLY_MINE": "yes"})
    assert with_env.shell.run("echo $ONLY_MINE").output.strip() == "yes"
