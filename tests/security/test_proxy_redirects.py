"""Redirect URIs at the proxy: codes go only where the client registered.

RFC 9700 §4.1.1 and §2.1 (exact redirect URI matching), RFC 6749 §3.1.2 (no fragment),
RFC 8252 §7.3 (a loopback URI may change its port, nothing else), RFC 7591 §2 / §3.2.2
(registration metadata and its error body).
"""

from __future__ import annotations

import json

import httpx
import pytest
from proxy_attacks import REDIRECT_URI, get, oauth_error, pkce_pair, register

from sandbox.proxy_routes import MAX_REDIRECT_URIS, MAX_REGISTRATION_BYTES


def refused_at_authorize(response: httpx.Response, evil: str) -> bool:
    """Refused without sending the browser to ``evil`` (RFC 6749 §4.1.2.1: never redirect to an invalid URI)."""
    location = response.headers.get("location", "")
    return response.status_code == 400 and not location.startswith(evil)


@pytest.mark.parametrize(
    "evil",
    [
        "http://127.0.0.1:53111/other-callback",  # registered port, path never registered
        "http://localhost:53111/callback",  # the other loopback name: not what was registered
        "http://127.0.0.1:53111/callback/../../evil",  # traversal
        "http://127.0.0.1:53111/callback/%2e%2e/evil",  # encoded traversal
        "http://127.0.0.1:53111/callback?next=http://evil.example",  # a query the client never registered
    ],
)
async def test_unregistered_loopback_redirect_uri_is_refused(sandbox, evil):
    """RFC 9700 §4.1.1: exact matching of registered URIs; FastMCP 4.2.3 accepted any loopback pattern match."""
    client = await register(sandbox)
    _, challenge = pkce_pair()
    response = await get(client.authorize_url(challenge, redirect_uri=evil))
    assert refused_at_authorize(response, evil), (response.status_code, response.headers.get("location"))


async def test_registered_redirect_uri_on_another_loopback_port_is_accepted(sandbox):
    """RFC 8252 §7.3: the port of a loopback redirect URI may vary (the control for the test above)."""
    client = await register(sandbox)
    _, challenge = pkce_pair()
    response = await get(client.authorize_url(challenge, redirect_uri="http://127.0.0.1:60001/callback"))
    assert response.status_code in (200, 302) and oauth_error(response) is None


@pytest.mark.parametrize(
    "evil",
    [
        "http://127.0.0.1:1@evil.example/callback",  # userinfo: the host is evil.example
        "http://localhost@evil.example:53111/callback",
        "http://evil.example/callback",
    ],
)
async def test_userinfo_and_foreign_hosts_are_refused_at_registration_and_authorize(sandbox, evil):
    """RFC 9700 §4.1.1 / RFC 6749 §3.1.2: the host is what counts, not what a prefix looks like."""
    async with httpx.AsyncClient() as http:
        registration = await http.post(
            f"{sandbox.base_url}/register", json={"redirect_uris": [evil], "token_endpoint_auth_method": "none"}
        )
    assert registration.status_code == 400 and registration.json()["error"] == "invalid_redirect_uri"
    client = await register(sandbox)
    _, challenge = pkce_pair()
    assert refused_at_authorize(await get(client.authorize_url(challenge, redirect_uri=evil)), evil)


async def test_fragment_redirect_uri_is_refused_at_registration(sandbox):
    """RFC 6749 §3.1.2: the redirection endpoint URI MUST NOT include a fragment."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{sandbox.base_url}/register",
            json={"redirect_uris": [f"{REDIRECT_URI}#frag"], "token_endpoint_auth_method": "none"},
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri" and "fragment" in response.json()["error_description"]


async def test_fragment_redirect_uri_is_refused_at_authorize(sandbox):
    """RFC 6749 §3.1.2 at /authorize: a fragment is not the registered URI."""
    client = await register(sandbox)
    _, challenge = pkce_pair()
    evil = f"{REDIRECT_URI}#http://evil.example"
    assert refused_at_authorize(await get(client.authorize_url(challenge, redirect_uri=evil)), evil)


async def test_too_many_redirect_uris_are_refused(sandbox):
    """RFC 7591 §3.2.2: the sandbox takes at most 20 redirect URIs (FastMCP 4.2.3 stored 1000)."""
    uris = [f"http://127.0.0.1:{2000 + n}/cb" for n in range(MAX_REDIRECT_URIS + 1)]
    async with httpx.AsyncClient() as http:
        many = await http.post(
            f"{sandbox.base_url}/register", json={"redirect_uris": uris, "token_endpoint_auth_method": "none"}
        )
        enough = await http.post(
            f"{sandbox.base_url}/register",
            json={"redirect_uris": uris[:MAX_REDIRECT_URIS], "token_endpoint_auth_method": "none"},
        )
    assert many.status_code == 400 and many.json()["error"] == "invalid_redirect_uri"
    assert enough.status_code == 201


@pytest.mark.parametrize("bloat", [{"client_name": "x" * 1_000_000}, {f"field_{n}": "y" * 1000 for n in range(1000)}])
async def test_oversized_registration_is_refused(sandbox, bloat):
    """RFC 7591 §3.2.2 error body for a registration over 64 KiB (FastMCP 4.2.3 stored a 1 MB client_name)."""
    body = json.dumps({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"} | bloat)
    assert len(body) > MAX_REGISTRATION_BYTES
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{sandbox.base_url}/register", content=body, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
