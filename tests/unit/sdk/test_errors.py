"""Error answers become one exception class per `ErrorCode`, whatever the body looks like."""

import socket

import httpx
import pytest

import shipyard
from shipyard import (
    AsyncClient,
    BayUnreachableError,
    Client,
    ConflictError,
    InternalError,
    InvalidArgumentError,
    InvalidRequestError,
    NotFoundError,
    Retries,
    SessionNotReadyError,
    ShipyardError,
    UnauthorizedError,
)
from shipyard.errors import QuotaExceededError, error_class
from shipyard_protocol.errors import REFINED_STATUSES, STATUS_BY_CODE, ErrorCode, code_of, status_of
from tests.unit.bay.conftest import ADMIN_KEY, Bay


def answering(response: httpx.Response) -> Client:
    transport = httpx.MockTransport(lambda _: response)
    return Client("http://bay", "k", retries=Retries(attempts=0), transport=transport)


class TestClasses:
    def test_one_exported_class_per_code(self) -> None:
        classes = [error_class(code, 200) for code in ErrorCode]
        assert [cls.code for cls in classes] == list(ErrorCode)
        assert all(getattr(shipyard, cls.__name__) is cls for cls in classes)

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (404, NotFoundError),
            (422, InvalidRequestError),
            (503, SessionNotReadyError),
            (500, InternalError),
            (418, InvalidRequestError),
            (599, InternalError),
        ],
    )
    def test_missing_code_falls_back_to_status(self, status: int, expected: type) -> None:
        assert error_class(None, status) is expected
        assert error_class("no_such_code", status) is expected

    @pytest.mark.parametrize("status", sorted({*STATUS_BY_CODE.values(), *REFINED_STATUSES}))
    def test_a_status_without_a_code_is_the_code_the_table_gives_it(self, status: int) -> None:
        assert error_class(None, status).code == code_of(status)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_each_code_answered_with_its_status_raises_its_class(code: ErrorCode) -> None:
    status = status_of(code)
    body = {"error": {"code": code.value, "message": "m"}}
    with (
        answering(httpx.Response(status, json=body)) as client,
        pytest.raises(ShipyardError) as caught,
    ):
        client.profiles.list()
    assert (type(caught.value).code, caught.value.status) == (code, status)
    assert type(caught.value) is error_class(code.value, status)


class TestBodies:
    def test_bay_body_carries_code_details_and_request_id(self) -> None:
        body = {
            "error": {
                "code": "not_found",
                "message": "gone",
                "request_id": "r1",
                "details": {"id": "x"},
            }
        }
        with (
            answering(httpx.Response(404, json=body)) as client,
            pytest.raises(NotFoundError) as caught,
        ):
            client.sandboxes.get("sandbox-x")
        error = caught.value
        assert (error.message, error.details, error.request_id, error.status) == (
            "gone",
            {"id": "x"},
            "r1",
            404,
        )
        assert str(error) == "[not_found] gone"

    def test_unknown_code_keeps_the_message(self) -> None:
        body = {"error": {"code": "brand_new", "message": "later"}}
        with (
            answering(httpx.Response(409, json=body)) as client,
            pytest.raises(ConflictError) as caught,
        ):
            client.cargos.delete("ws-1")
        assert caught.value.message == "later"

    def test_plain_text_body_is_wrapped(self) -> None:
        response = httpx.Response(500, text="Internal Server Error", headers={"x-request-id": "r2"})
        with answering(response) as client, pytest.raises(InternalError) as caught:
            client.cargos.list()
        assert (caught.value.message, caught.value.request_id) == ("Internal Server Error", "r2")

    def test_fastapi_detail_list_becomes_the_message(self) -> None:
        detail = [{"loc": ["query", "limit"], "msg": "too big", "type": "x"}]
        with (
            answering(httpx.Response(422, json={"detail": detail})) as client,
            pytest.raises(InvalidRequestError) as caught,
        ):
            client.sandboxes.list(limit=1000)
        assert caught.value.message == "query.limit: too big"

    def test_empty_body_uses_the_reason(self) -> None:
        with answering(httpx.Response(502)) as client, pytest.raises(ShipyardError) as caught:
            client.profiles.list()
        assert caught.value.message == "Bad Gateway"


@pytest.mark.usefixtures("full_disk")
async def test_a_full_cargo_raises_quota_exceeded_with_the_tables_status(bay_app: Bay) -> None:
    transport = bay_app.client._transport
    once = Retries(attempts=0)  # 429 is retried, and the disk stays full
    async with AsyncClient("http://bay", ADMIN_KEY, retries=once, transport=transport) as client:
        sandbox = await client.sandboxes.create()
        with pytest.raises(QuotaExceededError) as caught:
            await sandbox.files.write("a.txt", "x")
    assert caught.value.status == status_of(ErrorCode.QUOTA_EXCEEDED)


async def test_missing_key_is_unauthorized(bay_app: Bay, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHIPYARD_API_KEY", raising=False)
    transport = bay_app.client._transport
    async with AsyncClient("http://bay", transport=transport) as anonymous:
        with pytest.raises(UnauthorizedError):
            await anonymous.sandboxes.list()


class TestFirstHour:
    """What a new user gets wrong first, answered in the SDK's own words."""

    def test_an_argument_past_its_limit_is_a_shipyard_error_naming_it(self, client: Client) -> None:
        sandbox = client.sandboxes.create()
        with pytest.raises(InvalidArgumentError) as caught:
            sandbox.python.run("1", timeout=301)
        assert isinstance(caught.value, ShipyardError)
        assert "timeout" in caught.value.message
        assert "300" in caught.value.message
        assert caught.value.status == 0

    def test_no_server_names_the_url_and_the_setting(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # bound, not listening
            with (
                Client(url, "k", retries=Retries(attempts=0)) as client,
                pytest.raises(BayUnreachableError) as caught,
            ):
                client.health()
        assert url in str(caught.value)
        assert "SHIPYARD_ENDPOINT" in str(caught.value)
        assert caught.value.__suppress_context__  # one short traceback, not httpx's chain

    async def test_a_401_says_where_the_key_goes(
        self, bay_app: Bay, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("SHIPYARD_API_KEY", raising=False)
        transport = bay_app.client._transport
        async with AsyncClient("http://bay", "wrong", transport=transport) as client:
            with pytest.raises(UnauthorizedError) as caught:
                await client.sandboxes.list()
        assert "SHIPYARD_API_KEY" in caught.value.message
        assert "Bearer" in caught.value.message
        assert "a key was sent" in caught.value.message

    def test_an_empty_key_is_no_key_not_the_environments(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SHIPYARD_API_KEY", "from-the-environment")
        seen: list[str | None] = []

        def answer(request: httpx.Request) -> httpx.Response:
            seen.append(request.headers.get("authorization"))
            return httpx.Response(200, json={"items": []})

        transport = httpx.MockTransport(answer)
        with Client("http://bay", "", transport=transport) as client:
            client.profiles.list()
        with Client("http://bay", transport=transport) as client:
            client.profiles.list()
        assert seen == [None, "Bearer from-the-environment"]
