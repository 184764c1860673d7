"""One server under comparison: where it is, and the few steps every case builds on (sign in, get tokens)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx

from fidelity.observe import Places, observe
from mock_idp.master import ADMIN_PASSWORD, ADMIN_USERNAME
from sandbox.settings import DEFAULT_REALM_FILE
from sandbox.testing.headless import HeadlessBrowser

CLI = "sandbox-cli"  # public, direct access grants, loopback redirects
PROXY = "sandbox-proxy"  # confidential, the sandbox's upstream client
REDIRECT_URI = "http://127.0.0.1:53682/callback"
ADMIN = (ADMIN_USERNAME, ADMIN_PASSWORD)


def proxy_secret() -> str:
    realm = json.loads(DEFAULT_REALM_FILE.read_text(encoding="utf-8"))
    return next(client["secret"] for client in realm["clients"] if client["clientId"] == PROXY)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


@dataclass
class Target:
    """``sandbox_url``: a sandbox whose callback the realm's ``sandbox-proxy`` client lists."""

    name: str
    realm_url: str
    sandbox_url: str
    places: Places = field(init=False)

    def __post_init__(self) -> None:
        self.places = Places(self.realm_url)

    @property
    def oidc(self) -> str:
        return f"{self.realm_url}/protocol/openid-connect"

    @property
    def admin_url(self) -> str:
        return f"{self.places.idp_base}/admin/realms/sandbox"

    @property
    def proxy_redirect_uri(self) -> str:
        return f"{self.sandbox_url}/auth/callback"

    def http(self, **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(follow_redirects=False, timeout=30.0, **kwargs)

    def observe(self, response: httpx.Response, **kwargs: Any) -> dict[str, Any]:
        return observe(response, self.places, **kwargs)

    def auth_url(self, **params: str) -> str:
        defaults = {
            "client_id": CLI,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid",
            "state": "st-1",
        }
        query = httpx.QueryParams({key: value for key, value in {**defaults, **params}.items() if value is not None})
        return f"{self.oidc}/auth?{query}"

    async def sign_in(
        self, user: str = "alice", password: str | None = None, browser: HeadlessBrowser | None = None, **params: str
    ) -> tuple[HeadlessBrowser, str, str]:
        """A browser that signed in, the authorization code it brought back, and the PKCE verifier."""
        browser = browser or HeadlessBrowser(user, password or user)
        verifier, challenge = pkce_pair()
        result = await browser.authorize(
            self.auth_url(code_challenge=challenge, code_challenge_method="S256", **params)
        )
        return browser, result.code, verifier

    async def code_tokens(self, user: str = "alice", scope: str = "openid", **params: str) -> dict[str, Any]:
        _, code, verifier = await self.sign_in(user, scope=scope, **params)
        client_id = params.get("client_id", CLI)
        async with self.http() as http:
            response = await http.post(
                f"{self.oidc}/token",
                data={
                    "grant_type": "authorization_code",
                    "client_id": client_id,
                    "code": code,
                    "redirect_uri": params.get("redirect_uri", REDIRECT_URI),
                    "code_verifier": verifier,
                },
            )
        response.raise_for_status()
        return response.json()

    async def password_tokens(self, user: str = "alice", scope: str = "openid") -> dict[str, Any]:
        async with self.http() as http:
            response = await http.post(
                f"{self.oidc}/token",
                data={"grant_type": "password", "client_id": CLI, "username": user, "password": user, "scope": scope},
            )
        response.raise_for_status()
        return response.json()

    async def proxy_tokens(self, user: str = "alice") -> dict[str, Any]:
        """Tokens of the confidential upstream client, through the browser flow as the sandbox gets them."""
        _, code, verifier = await self.sign_in(user, client_id=PROXY, redirect_uri=self.proxy_redirect_uri)
        async with self.http() as http:
            response = await http.post(
                f"{self.oidc}/token",
                auth=(PROXY, proxy_secret()),
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.proxy_redirect_uri,
                    "code_verifier": verifier,
                },
            )
        response.raise_for_status()
        return response.json()

    async def admin_headers(self) -> dict[str, str]:
        async with self.http() as http:
            response = await http.post(
                f"{self.places.idp_base}/realms/master/protocol/openid-connect/token",
                data={"grant_type": "password", "client_id": "admin-cli", "username": ADMIN[0], "password": ADMIN[1]},
            )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}
