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
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

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


def raw_post(base_url: str, path: str, content_length: str, content_type: str = FORM) -> tuple[int, bytes]:
    """A POST with the Content-Length header exactly as given (httpx writes its own): status, body."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as conn:
        host = f"{parts.hostname}:{parts.port}"
        head = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n"
        conn.sendall(f"{head}Content-Length: {content_length}\r\nConnection: close\r\n\r\n".encode() + b"x")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


LONG_LENGTH = "0" * 5000 + "1"  # leading zeros are legal; int() refuses strings past 4,300 digits


@pytest.mark.parametrize("path", ["/token", "/register", "/mcp"])
def test_a_content_length_of_5000_digits_is_not_a_500(sandbox, path: str) -> None:
    """It was: the body limits called int() on it (ValueError: Exceeds the limit (4300 digits))."""
    status, body = raw_post(sandbox.base_url, path, LONG_LENGTH, JSON if path != "/token" else FORM)
    assert 400 <= status < 500, body


@pytest.mark.mock_only
@pytest.mark.parametrize("path", ["protocol/openid-connect/token", DCR])
def test_a_content_length_of_5000_digits_at_the_mock_idp_is_400(sandbox, path: str) -> None:
    realm = urlsplit(sandbox.realm_url).path
    status, body = raw_post(sandbox.base_url, f"{realm}/{path}", LONG_LENGTH, JSON if path == DCR else FORM)
    assert status == 400 and b"invalid_request" in body, body


def test_a_since_of_5000_digits_reads_as_nothing_newer(http: httpx.Client) -> None:
    answer = http.get("/sandbox/trace.json", params={"since": "9" * 5000})
    assert answer.status_code == 200 and answer.json()["flows"] == []


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_a_number_json_cannot_write_back_keeps_the_trace_readable(http: httpx.Client, number: bytes) -> None:
    """One /register body with NaN made /sandbox/trace.json a 500 (Starlette's JSONResponse
    refuses NaN) until 50 newer flows pushed it out. The body is now not JSON to the trace.
    (FastMCP registers the client: the SDK's parser ignores the unknown field.)"""
    http.delete("/sandbox/trace")
    body = b'{"redirect_uris": ["http://localhost:1/cb"], "x": ' + number + b"}"
    registered = http.post("/register", content=body, headers={"Content-Type": JSON})
    assert registered.status_code in (201, 400), registered.text
    trace = http.get("/sandbox/trace.json")
    assert trace.status_code == 200 and any(
        s["url"].endswith("/register") for f in trace.json()["flows"] for s in f["steps"]
    )


@pytest.mark.mock_only  # Keycloak's answer to a lone surrogate is its own; the mock must not store it
@pytest.mark.parametrize("field", ["redirect_uris", "client_name"])
def test_a_lone_surrogate_at_the_mock_idps_registration_is_400_and_nothing_is_stored(sandbox, field: str) -> None:
    """It was stored, then answered 500 (UnicodeEncodeError writing the reply) with the secret never shown."""
    value = '["http://localhost:3000/\\ud800"]' if field == "redirect_uris" else '"\\udc80"'
    body = '{"redirect_uris": ["http://localhost:3000/cb"], ' + f'"{field}": {value}}}'
    before = httpx.get(f"{sandbox.admin_url}/clients", headers={"Authorization": f"Bearer {admin_token(sandbox)}"})
    response = httpx.post(f"{sandbox.realm_url}/{DCR}", content=body, headers={"Content-Type": JSON})
    # Keycloak's answer to JSON it cannot bind, as the mock gives it for every malformed body.
    assert response.status_code == 400 and response.json()["error"] == "invalid_request", response.text
    after = httpx.get(f"{sandbox.admin_url}/clients", headers={"Authorization": f"Bearer {admin_token(sandbox)}"})
    assert len(after.json()) == len(before.json())
