"""The fuzz pass: requests drawn from Bay's own OpenAPI document never get a server error.

Bodies and query parameters come from each operation's JSON Schema (hypothesis-jsonschema),
mixed with hostile JSON (NaN, huge numbers, lone surrogates, wrong types); path parameters
name a real sandbox. Examples are derandomized, so every run sends the same requests.
"""

import json
from collections.abc import Iterator
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from .conftest import Target

EXAMPLES = 12
SKIPPED = {
    ("DELETE", "/v1/sandboxes/{sandbox_id}"),  # the sandbox every other call uses
    ("POST", "/v1/sandboxes/{sandbox_id}/stop"),
    ("POST", "/v1/admin/keys"),  # each would mint a real key
}
SHORT_TIMEOUT = {"type": "integer", "minimum": 1, "maximum": 3}
METHODS = ("get", "post", "put", "patch", "delete")

hostile = st.recursive(
    st.none()
    | st.booleans()
    | st.sampled_from([float("nan"), float("inf"), -float("inf"), 10**40, -(10**40)])
    | st.text(st.characters(codec=None, exclude_categories=()), max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


def _openapi(target: Target) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{target.url}/openapi.json", timeout=30).json()
    return document


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item and (method.upper(), path) not in SKIPPED:
                yield method.upper(), path, item[method]


def _bounded(schema: Any) -> Any:
    """The schema with every `timeout` at most a few seconds, so fuzzed code ends soon."""
    if isinstance(schema, dict):
        return {k: SHORT_TIMEOUT if k == "timeout" else _bounded(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_bounded(v) for v in schema]
    return schema


def _body(operation: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[Any]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return st.none()
    valid = from_schema(_bounded({**schema, "components": components}))
    return st.one_of(valid, valid, hostile)


def _query(operation: dict[str, Any], components: dict[str, Any]) -> st.SearchStrategy[Any]:
    params = [p for p in operation.get("parameters", []) if p["in"] == "query"]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {p["name"]: p.get("schema", {}) for p in params},
        "components": components,
    }
    return st.one_of(
        from_schema(schema),
        st.dictionaries(
            st.sampled_from([p["name"] for p in params] or ["x"]),
            st.sampled_from(["-1", "1e999", "9" * 40, "NaN"]),
        ),
    )


def _send(
    http: httpx.Client, method: str, path: str, sandbox: str, query: Any, body: Any
) -> httpx.Response:
    url = path.replace("{sandbox_id}", sandbox).replace("{", "").replace("}", "")
    params = {k: json.dumps(v) if not isinstance(v, str) else v for k, v in (query or {}).items()}
    content = None if body is None else json.dumps(body, allow_nan=True).encode()
    headers = {"content-type": "application/json"} if content is not None else {}
    return http.request(method, url, params=params, content=content, headers=headers)


def test_no_operation_answers_a_server_error(target: Target, http: httpx.Client) -> None:
    document = _openapi(target)
    components = document.get("components", {})
    sandbox = http.post("/v1/sandboxes", json={}).json()["id"]
    failures: list[str] = []
    try:
        for method, path, operation in _operations(document):
            failures += _fuzz(http, method, path, sandbox, operation, components)
    finally:
        http.delete(f"/v1/sandboxes/{sandbox}")
    assert failures == []


def _fuzz(
    http: httpx.Client,
    method: str,
    path: str,
    sandbox: str,
    operation: dict[str, Any],
    components: dict[str, Any],
) -> list[str]:
    failures: list[str] = []

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(query=_query(operation, components), body=_body(operation, components))
    def probe(query: Any, body: Any) -> None:
        response = _send(http, method, path, sandbox, query, body)
        if response.status_code >= 500:
            failures.append(f"{method} {path} {query!r} {body!r} -> {response.status_code}")

    probe()
    return failures
