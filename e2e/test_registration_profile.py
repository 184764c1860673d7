"""Dynamic Client Registration per MCP 2026-07-28: application_type is honoured (native may use
loopback redirects, web may not), and the trace shows the issuer a client binds itself to."""

from __future__ import annotations

import httpx
import pytest

LOOPBACK = "http://127.0.0.1:5555/callback"


def register(sandbox, **fields: object) -> httpx.Response:
    return httpx.post(
        f"{sandbox.base_url}/register",
        json={"redirect_uris": [LOOPBACK], "token_endpoint_auth_method": "none", **fields},
    )


@pytest.mark.parametrize("fields", [{"application_type": "native"}, {}])
def test_a_native_client_registers_loopback_redirects(sandbox, fields):
    answer = register(sandbox, **fields)
    assert answer.status_code == 201, answer.text
    assert answer.json()["application_type"] == "native"  # also the default for loopback redirects
    assert answer.json()["redirect_uris"] == [LOOPBACK]


def test_a_web_client_may_not_register_a_loopback_redirect(sandbox):
    answer = register(sandbox, application_type="web")
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_redirect_uri",
        "error_description": f"Redirect URI '{LOOPBACK}' is not allowed for application_type 'web'.",
    }


def test_the_trace_shows_the_issuer_a_client_binds_to(sandbox):
    httpx.delete(f"{sandbox.base_url}/sandbox/trace")
    httpx.get(f"{sandbox.base_url}/.well-known/oauth-authorization-server")
    flows = httpx.get(f"{sandbox.base_url}/sandbox/trace.json").json()["flows"]
    notes = [step["note"] for flow in flows for step in flow["steps"] if step["kind"] == "as_metadata"]
    assert f"issuer={sandbox.base_url} · registration and tokens are bound to it" in notes
