"""Every body parser is bounded in size and depth: bad bodies get the endpoint's own error, never a
500 or a connection cut mid-response (RFC 6749 §5.2, RFC 7591 §3.2.2, JSON-RPC 2.0 §5.1).

Before: JSON nested 3000 deep cut the connection at /register (a RecursionError in the flow
trace after the response had started) and got a 500 from the mock's DCR; a 10 MB form was
buffered whole by /token and refused in plain text, and /register stored a 5 MB body.

The sandbox's own endpoints are checked on both backends (``--sandbox-backend keycloak``):
the bounds are the sandbox's, in front of FastMCP. At the IdP, Keycloak 26.7.3 answers deep
JSON with 400 too, so those tests run on both; its size limits are not the mock's (a 70 KB
DCR body is a 500 there, a 70 KB token form is read), so the mock's 413s are mock-only.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from robust_support import FORM, deep_json

from mock_idp.bodies import MAX_BODY_BYTES, MAX_JSON_DEPTH, json_too_deep
from sandbox.limits import MAX_MCP_BODY_BYTES
from sandbox.trace.masking import jwt_parts

DEEP = deep_json(3000)
JSON = "application/json"
MCP_ACCEPT = {"Accept": "application/json, text/event-stream"}
DCR = "clients-registrations/openid-connect"


@pytest.fixture
def http(sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.base_url, timeout=60) as client:
        yield client


def admin_token(sandbox) -> str:
    """A master-realm admin token, as python-keycloak gets one (admin-cli, admin/admin), on either backend."""
    response = httpx.post(
        f"{sandbox.idp_server_url}realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": "admin", "password": "admin"},
    )
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.mark.parametrize(
    "path, error",
    [
        ("/register", "invalid_client_metadata"),  # RFC 7591 §3.2.2
        ("/token", "invalid_request"),  # RFC 6749 §5.2
        ("/revoke", "invalid_request"),
        ("/consent", "invalid_request"),
    ],
)
def test_deep_json_gets_the_endpoints_error(http: httpx.Client, path: str, error: str) -> None:
    response = http.post(path, content=DEEP, headers={"Content-Type": JSON})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error
    assert str(MAX_JSON_DEPTH) in response.json()["error_description"]


def test_deep_json_is_refused_whatever_its_content_type(http: httpx.Client) -> None:
    # Starlette's request.json() ignores Content-Type, so a text/plain body is JSON to a route.
    response = http.post("/register", content=b"[" * 3000 + b"]" * 3000, headers={"Content-Type": "text/plain"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_client_metadata"


def test_deep_json_at_mcp_is_a_json_rpc_parse_error(http: httpx.Client) -> None:
    response = http.post("/mcp", content=DEEP, headers={"Content-Type": JSON, **MCP_ACCEPT})
    assert response.status_code == 400
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": f"JSON request body nested deeper than {MAX_JSON_DEPTH} levels"},
    }


@pytest.mark.parametrize("body", [DEEP, b"[" * 3000 + b"]" * 3000], ids=["objects", "arrays"])
def test_deep_json_at_the_idps_registration_is_400(sandbox, body: bytes) -> None:
    response = httpx.post(f"{sandbox.realm_url}/{DCR}", content=body, headers={"Content-Type": JSON})
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.parametrize("path", ["users", pytest.param("x-mock/faults", marks=pytest.mark.mock_only)])
def test_deep_json_at_the_admin_api_is_400(sandbox, path: str) -> None:
    token = admin_token(sandbox)
    response = httpx.post(
        f"{sandbox.admin_url}/{path}", content=DEEP, headers={"Content-Type": JSON, "Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.parametrize("where", ["proxy", pytest.param("idp", marks=pytest.mark.mock_only)])
def test_deep_json_cannot_cut_the_traced_response(http: httpx.Client, sandbox, where: str) -> None:
    """The trace parses the request bodies it records once the reply has started; a deep
    one must neither abort that reply (httpx raises RemoteProtocolError) nor go unrecorded.
    (Only the in-process mock IdP's side is traced.)"""
    url = f"{sandbox.base_url}/register" if where == "proxy" else f"{sandbox.realm_url}/{DCR}"
    http.delete("/sandbox/trace")
    response = http.post(url, content=DEEP, headers={"Content-Type": JSON})
    assert response.status_code == 400
    steps = [step for flow in http.get("/sandbox/trace.json").json()["flows"] for step in flow["steps"]]
    assert [(step["kind"], step["status"]) for step in steps if step["url"] == url] == [("registration", 400)]


def test_json_within_the_depth_bound_still_registers(http: httpx.Client) -> None:
    nested = deep_json(MAX_JSON_DEPTH - 2).decode()
    body = f'{{"redirect_uris": ["http://localhost:1/cb"], "x_extension": {nested}}}'
    response = http.post("/register", content=body, headers={"Content-Type": JSON})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "path, content_type, status, error",
    [
        ("/token", FORM, 413, "invalid_request"),
        ("/consent", FORM, 413, "invalid_request"),
        ("/revoke", FORM, 413, "invalid_request"),
        ("/register", JSON, 400, "invalid_client_metadata"),  # RFC 7591 §3.2.2: every error is a 400
    ],
)
def test_oversized_bodies_are_refused(
    http: httpx.Client, path: str, content_type: str, status: int, error: str
) -> None:
    response = http.post(path, content=b"a=" + b"x" * MAX_BODY_BYTES, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert str(MAX_BODY_BYTES) in response.json()["error_description"]


@pytest.mark.mock_only
@pytest.mark.parametrize("path, content_type", [("protocol/openid-connect/token", FORM), (DCR, JSON)])
def test_oversized_bodies_at_the_mock_idp_are_413(sandbox, path: str, content_type: str) -> None:
    response = httpx.post(
        f"{sandbox.realm_url}/{path}", content=b"a=" + b"x" * MAX_BODY_BYTES, headers={"Content-Type": content_type}
    )
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"


def test_oversized_chunked_form_is_413_without_reading_it_all(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"grant_type=authorization_code&code="
        for _ in range(200):
            yield b"x" * 1024

    response = http.post("/token", content=chunks(), headers={"Content-Type": FORM})
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"


def test_mcp_bodies_have_their_own_larger_bound(http: httpx.Client) -> None:
    over = http.post("/mcp", content=b" " * (MAX_MCP_BODY_BYTES + 1), headers={"Content-Type": JSON, **MCP_ACCEPT})
    assert over.status_code == 413 and over.json()["error"]["code"] == -32600
    # Above the OAuth bound, below MCP's: past the limit, on to the MCP server's own 401.
    under = http.post("/mcp", content=b" " * (MAX_BODY_BYTES * 2), headers={"Content-Type": JSON, **MCP_ACCEPT})
    assert under.status_code == 401


@pytest.mark.parametrize(
    "body, deep",
    [
        (b"[" * 65 + b"]" * 65, True),
        (b"[" * 64 + b"]" * 64, False),
        (b'"' + b"[" * 100 + b'"', False),  # brackets inside a string
        (b'["\\"' + b"[" * 100 + b'"]', False),  # an escaped quote does not end the string
        (b'["\\\\"' + b"[" * 100 + b"]", True),  # an escaped backslash does
        (b"{" * 65, True),  # unbalanced: refused before the parser sees it
        (b"[" * 32 + b"{" * 33 + b"}" * 33 + b"]" * 32, True),  # both kinds count towards one depth
        (b'["' + b"[" * 70 + b'"]', False),  # enough brackets in all, but inside a string
    ],
)
def test_depth_is_counted_outside_strings(body: bytes, deep: bool) -> None:
    assert json_too_deep(body) is deep


def test_the_trace_reads_a_deeply_nested_token_as_no_jwt() -> None:
    """The trace decodes every JWT it sees, unverified, and anyone can send one whose header
    nests 3000 deep; that used to raise RecursionError and drop the hop."""
    segment = base64.urlsafe_b64encode(b"[" * 3000 + b"]" * 3000).rstrip(b"=").decode()
    assert jwt_parts(f"{segment}.{segment}.x") is None
