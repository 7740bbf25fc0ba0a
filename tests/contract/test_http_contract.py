"""Status codes and error codes of the v1 contract, over plain HTTP."""

import time

import httpx
import pytest

from tests.contract.conftest import Target


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


class TestAuth:
    def test_no_token_is_401(self, target: Target) -> None:
        response = httpx.get(f"{target.url}/v1/sandboxes")
        assert (response.status_code, error_code(response)) == (401, "unauthorized")

    def test_public_routes_need_no_token(self, target: Target) -> None:
        assert httpx.get(f"{target.url}/health").json()["status"] == "ok"
        assert httpx.get(f"{target.url}/v1/profiles").status_code == 200

    def test_non_admin_key_is_403_on_admin_routes(self, http: httpx.Client, target: Target) -> None:
        key = http.post("/v1/admin/keys", json={"owner": "contract-user"}).json()
        with target.client(key["api_key"]) as user:
            response = user.get("/v1/admin/gc/status")
        assert (response.status_code, error_code(response)) == (403, "forbidden")


class TestSandboxes:
    def test_create_is_201_and_delete_is_204(self, http: httpx.Client) -> None:
        created = http.post("/v1/sandboxes", json={})
        assert created.status_code == 201
        assert set(created.json()) == {
            "id",
            "status",
            "profile",
            "cargo_id",
            "capabilities",
            "created_at",
            "expires_at",
            "idle_expires_at",
            "containers",
            # Ours, added on purpose (issues 13 and 14; README's Network and API sections):
            # the network policy with its traffic, and the caller's metadata.
            "network",
            "metadata",
        }
        assert http.delete(f"/v1/sandboxes/{created.json()['id']}").status_code == 204

    def test_unknown_profile_is_400_validation_error(self, http: httpx.Client) -> None:
        response = http.post("/v1/sandboxes", json={"profile": "nope"})
        assert (response.status_code, error_code(response)) == (400, "validation_error")

    def test_missing_sandbox_is_404_not_found(self, http: httpx.Client) -> None:
        response = http.get("/v1/sandboxes/sandbox-000000000000")
        assert (response.status_code, error_code(response)) == (404, "not_found")

    def test_stop_and_keepalive_answer_status(self, http: httpx.Client, sandbox_id: str) -> None:
        assert http.post(f"/v1/sandboxes/{sandbox_id}/keepalive").json() == {"status": "ok"}
        assert http.post(f"/v1/sandboxes/{sandbox_id}/stop").json() == {"status": "stopped"}

    def test_extend_infinite_is_409_ttl_infinite(self, http: httpx.Client, sandbox_id: str) -> None:
        response = http.post(f"/v1/sandboxes/{sandbox_id}/extend_ttl", json={"extend_by": 5})
        assert (response.status_code, error_code(response)) == (409, "sandbox_ttl_infinite")

    def test_expired_sandbox_is_409_sandbox_expired(self, http: httpx.Client) -> None:
        sandbox_id = http.post("/v1/sandboxes", json={"ttl": 1}).json()["id"]
        time.sleep(1.2)  # a black box cannot move Bay's clock
        response = http.post(f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "true"})
        assert (response.status_code, error_code(response)) == (409, "sandbox_expired")
        assert http.get(f"/v1/sandboxes/{sandbox_id}").json()["status"] == "expired"
        http.delete(f"/v1/sandboxes/{sandbox_id}")

    def test_idempotency_conflicts_are_409(self, http: httpx.Client) -> None:
        first = http.post("/v1/sandboxes", json={}, headers={"Idempotency-Key": "contract-1"})
        other = http.post(
            "/v1/sandboxes", json={"ttl": 9}, headers={"Idempotency-Key": "contract-1"}
        )
        bad = http.post("/v1/sandboxes", json={}, headers={"Idempotency-Key": "bad key"})
        assert (other.status_code, error_code(other)) == (409, "conflict")
        assert (bad.status_code, error_code(bad)) == (409, "conflict")
        http.delete(f"/v1/sandboxes/{first.json()['id']}")


class TestCapabilities:
    def test_missing_capability_is_400(self, http: httpx.Client) -> None:
        sandbox_id = http.post("/v1/sandboxes", json={"profile": "python-only"}).json()["id"]
        response = http.post(f"/v1/sandboxes/{sandbox_id}/shell/exec", json={"command": "id"})
        assert (response.status_code, error_code(response)) == (400, "capability_not_supported")
        http.delete(f"/v1/sandboxes/{sandbox_id}")

    @pytest.mark.parametrize("path", ["/etc/passwd", "../up", ""])
    def test_bad_path_is_400_invalid_path(
        self, http: httpx.Client, sandbox_id: str, path: str
    ) -> None:
        response = http.get(f"/v1/sandboxes/{sandbox_id}/filesystem/files", params={"path": path})
        assert (response.status_code, error_code(response)) == (400, "invalid_path")

    def test_missing_file_is_404_file_not_found(self, http: httpx.Client, sandbox_id: str) -> None:
        for method in ("GET", "DELETE"):
            response = http.request(
                method, f"/v1/sandboxes/{sandbox_id}/filesystem/files", params={"path": "none"}
            )
            assert (response.status_code, error_code(response)) == (404, "file_not_found")
        download = http.get(
            f"/v1/sandboxes/{sandbox_id}/filesystem/download", params={"path": "none"}
        )
        assert (download.status_code, error_code(download)) == (404, "file_not_found")

    def test_schema_violation_is_fastapi_422(self, http: httpx.Client, sandbox_id: str) -> None:
        response = http.post(f"/v1/sandboxes/{sandbox_id}/python/exec", json={"timeout": 0})
        assert response.status_code == 422
        assert "detail" in response.json()

    def test_user_error_is_200_success_false(self, http: httpx.Client, sandbox_id: str) -> None:
        response = http.post(f"/v1/sandboxes/{sandbox_id}/python/exec", json={"code": "1/0"})
        assert response.status_code == 200
        assert response.json()["success"] is False


class TestCargosAndHistory:
    def test_cargo_statuses(self, http: httpx.Client) -> None:
        created = http.post("/v1/cargos")
        assert created.status_code == 201
        assert http.post("/v1/cargos", json={"size_limit_mb": 70000}).status_code == 422
        assert http.delete(f"/v1/cargos/{created.json()['id']}").status_code == 204
        missing = http.get(f"/v1/cargos/{created.json()['id']}")
        assert (missing.status_code, error_code(missing)) == (404, "not_found")

    def test_history_filter_regex_is_422(self, http: httpx.Client, sandbox_id: str) -> None:
        response = http.get(f"/v1/sandboxes/{sandbox_id}/history?exec_type=filesystem")
        assert response.status_code == 422

    def test_history_last_without_entries_is_404(self, http: httpx.Client, sandbox_id: str) -> None:
        response = http.get(f"/v1/sandboxes/{sandbox_id}/history/last")
        assert (response.status_code, error_code(response)) == (404, "not_found")


class TestEnvelope:
    def test_request_id_is_echoed_in_header_and_body(self, http: httpx.Client) -> None:
        response = http.get(
            "/v1/sandboxes/sandbox-000000000000", headers={"X-Request-Id": "contract-req"}
        )
        assert response.headers["x-request-id"] == "contract-req"
        assert response.json()["error"]["request_id"] == "contract-req"

    def test_gc_run_and_status(self, http: httpx.Client) -> None:
        status = http.get("/v1/admin/gc/status").json()
        assert {"enabled", "is_running", "instance_id", "interval_seconds", "tasks"} <= set(status)
        run = http.post("/v1/admin/gc/run", json={"tasks": ["orphan_instance"]}).json()
        assert [r["task_name"] for r in run["results"]] == ["orphan_instance"]
