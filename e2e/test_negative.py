"""What the protected MCP endpoint and the proxy's registration must refuse."""

from __future__ import annotations

import base64
import json
import time

import httpx
from fastmcp import Client
from joserfc import jwt
from joserfc.jwk import OctKey
from key_value.aio.stores.memory import MemoryStore

from sandbox.state import StateDir
from sandbox.testing.headless import HeadlessOAuth

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


async def proxy_token(sandbox, headless_browser) -> str:
    storage = MemoryStore()
    auth = HeadlessOAuth(headless_browser("alice"), token_storage=storage)
    async with Client(sandbox.mcp_url, auth=auth) as client:
        await client.call_tool("greet", {"name": "token"})
    tokens = await auth.token_storage_adapter.get_tokens()
    return tokens.access_token


async def mcp_status(sandbox, token: str | None) -> httpx.Response:
    headers = dict(MCP_HEADERS)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient() as http:
        return await http.post(sandbox.mcp_url, json=INITIALIZE, headers=headers)


def resign(sandbox, token: str, **changes) -> str:
    """The same token re-signed with the proxy's own key, with some claims changed."""
    claims = _claims(token) | changes
    key = OctKey.import_key(StateDir(sandbox.settings.state_dir).proxy_secret())
    return jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, key)


async def test_unauthenticated_call_gets_401_pointing_at_resource_metadata(sandbox):
    response = await mcp_status(sandbox, None)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{sandbox.base_url}/.well-known/oauth-protected-resource/mcp"' in challenge
    async with httpx.AsyncClient() as http:
        metadata = (await http.get(f"{sandbox.base_url}/.well-known/oauth-protected-resource/mcp")).json()
    assert metadata["resource"] == sandbox.mcp_url
    assert metadata["authorization_servers"][0].rstrip("/") == sandbox.base_url


async def test_valid_token_is_accepted(sandbox, headless_browser):
    # The control for the refusals below: the untouched token works.
    token = await proxy_token(sandbox, headless_browser)
    assert (await mcp_status(sandbox, token)).status_code == 200
    assert (await mcp_status(sandbox, resign(sandbox, token))).status_code == 200


async def test_token_for_another_resource_is_refused(sandbox, headless_browser):
    token = await proxy_token(sandbox, headless_browser)
    other = resign(sandbox, token, aud="http://localhost:9/other-mcp")
    assert (await mcp_status(sandbox, other)).status_code == 401


async def test_expired_token_is_refused(sandbox, headless_browser):
    token = await proxy_token(sandbox, headless_browser)
    expired = resign(sandbox, token, exp=int(time.time()) - 60, iat=int(time.time()) - 120)
    assert (await mcp_status(sandbox, expired)).status_code == 401


async def test_tampered_token_is_refused(sandbox, headless_browser):
    token = await proxy_token(sandbox, headless_browser)
    header, _, signature = token.split(".")
    payload = _b64(json.dumps(_claims(token) | {"client_id": "someone-else"}).encode())
    assert (await mcp_status(sandbox, f"{header}.{payload}.{signature}")).status_code == 401


async def test_upstream_idp_token_is_not_accepted_as_a_proxy_token(sandbox):
    realm_url = sandbox.sandbox.upstream.realm_url
    async with httpx.AsyncClient() as http:
        grant = await http.post(
            f"{realm_url}/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "sandbox-cli",
                "username": "alice",
                "password": "alice",
                "scope": "openid",
            },
        )
    assert grant.status_code == 200, grant.text
    assert (await mcp_status(sandbox, grant.json()["access_token"])).status_code == 401


async def test_registration_outside_loopback_is_refused(sandbox):
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{sandbox.base_url}/register",
            json={
                "client_name": "evil",
                "redirect_uris": ["https://attacker.example/callback"],
                "token_endpoint_auth_method": "none",
            },
        )
        loopback = await http.post(
            f"{sandbox.base_url}/register",
            json={
                "client_name": "fine",
                "redirect_uris": ["http://127.0.0.1:4711/callback"],
                "token_endpoint_auth_method": "none",
            },
        )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_redirect_uri"
    assert loopback.status_code == 201


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_root_form_of_resource_metadata_matches_the_path_form(sandbox):
    async with httpx.AsyncClient() as http:
        root = await http.get(f"{sandbox.base_url}/.well-known/oauth-protected-resource")
        path = await http.get(f"{sandbox.base_url}/.well-known/oauth-protected-resource/mcp")
    assert root.status_code == path.status_code == 200
    assert root.json() == path.json()
    assert root.json()["resource"] == sandbox.mcp_url
