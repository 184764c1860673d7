"""The attacker's tools against the proxy: register, authorize, redeem and call /mcp by hand.

Each step is the plain HTTP a client (or an attacker) sends, so a test can change one
parameter and see what the proxy does with it. The browser step is the headless browser,
which logs in as a demo user and approves the proxy's consent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.testing.headless import HeadlessBrowser

REDIRECT_URI = "http://127.0.0.1:53111/callback"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "attacker", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class Client:
    """A client registered at the proxy, as an attacker or a victim would register one."""

    base_url: str
    mcp_url: str
    client_id: str
    redirect_uri: str

    def authorize_params(self, challenge: str | None, **overrides: str | None) -> dict[str, str]:
        params: dict[str, str | None] = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": "openid",
            "state": secrets.token_urlsafe(8),
            "resource": self.mcp_url,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        params.update(overrides)
        return {name: value for name, value in params.items() if value is not None}

    def authorize_url(self, challenge: str | None, **overrides: str | None) -> str:
        return f"{self.base_url}/authorize?{httpx.QueryParams(self.authorize_params(challenge, **overrides))}"

    async def code(self, challenge: str, *, user: str = "alice", browser: HeadlessBrowser | None = None) -> str:
        """The proxy's authorization code for ``user``, via login and consent."""
        browser = browser or HeadlessBrowser(user, user)
        return (await browser.authorize(self.authorize_url(challenge))).code

    async def redeem(self, code: str, verifier: str | None, **overrides: str) -> httpx.Response:
        data = {
            "grant_type": "authorization_code",
            "client_id": self.client_id,
            "code": code,
            "redirect_uri": self.redirect_uri,
            "resource": self.mcp_url,
        }
        if verifier is not None:
            data["code_verifier"] = verifier
        async with httpx.AsyncClient(timeout=60) as http:
            return await http.post(f"{self.base_url}/token", data=data | overrides)

    async def refresh(self, refresh_token: str, **overrides: str) -> httpx.Response:
        data = {"grant_type": "refresh_token", "client_id": self.client_id, "refresh_token": refresh_token}
        async with httpx.AsyncClient(timeout=60) as http:
            return await http.post(f"{self.base_url}/token", data=data | overrides)

    async def revoke(self, token: str, **overrides: str) -> httpx.Response:
        async with httpx.AsyncClient() as http:
            return await http.post(
                f"{self.base_url}/revoke", data={"client_id": self.client_id, "token": token} | overrides
            )

    async def tokens(self, *, user: str = "alice") -> dict[str, Any]:
        """A full grant: code, then the token response."""
        verifier, challenge = pkce_pair()
        response = await self.redeem(await self.code(challenge, user=user), verifier)
        assert response.status_code == 200, response.text
        return response.json()


async def register(sandbox: Any, *redirect_uris: str, **metadata: Any) -> Client:
    uris = list(redirect_uris) or [REDIRECT_URI]
    body = {
        "client_name": "attack-test",
        "redirect_uris": uris,
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
    } | metadata
    async with httpx.AsyncClient() as http:
        response = await http.post(f"{sandbox.base_url}/register", json=body)
    assert response.status_code == 201, response.text
    return Client(sandbox.base_url, sandbox.mcp_url, response.json()["client_id"], uris[0])


async def call_mcp(sandbox: Any, token: str | None, **headers: str) -> httpx.Response:
    sent = dict(MCP_HEADERS) | headers
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient() as http:
        return await http.post(sandbox.mcp_url, json=INITIALIZE, headers=sent)


def oauth_error(response: httpx.Response) -> str | None:
    """The OAuth error of a refusal: in the redirect's query (RFC 6749 §4.1.2.1) or the JSON body."""
    if response.is_redirect:
        return httpx.URL(response.headers["location"]).params.get("error")
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


async def get(url: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(follow_redirects=False) as http:
        return await http.get(url, **kwargs)


def is_refused_grant(response: httpx.Response) -> bool:
    """``invalid_grant`` from /token. RFC 6749 §5.2 says 400; FastMCP answers 401 on purpose
    (its reading of the MCP rule that invalid tokens get 401), and both refuse."""
    return response.status_code in (400, 401) and oauth_error(response) == "invalid_grant"
