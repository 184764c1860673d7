"""Helpers shared by the mock IdP tests (constants and login-form driving)."""

from __future__ import annotations

import asyncio
import re
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from mock_idp.pkce import s256
from sandbox.testing.headless import BrowserCookieJar

REPO = Path(__file__).resolve().parents[2]
REALM_PATH = REPO / "realms" / "sandbox.json"
BASE = "http://localhost:8080"
ISSUER = f"{BASE}/realms/sandbox"
OIDC = f"{ISSUER}/protocol/openid-connect"
PROXY = ("sandbox-proxy", "sandbox-proxy-secret")
PROXY_REDIRECT = "http://localhost:8000/auth/callback"
VERIFIER = "v" * 43 + "-verifier-for-tests"


def browser(app: Any, base_url: str = BASE, **transport: Any) -> httpx.AsyncClient:
    """A client for an in-process IdP app with a browser's cookie jar: the IdP's cookies are
    Secure (as Keycloak's are), which a browser still sends on localhost and the stdlib jar does not."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, **transport), base_url=base_url, cookies=BrowserCookieJar()
    )


def form_action(html: str) -> str:
    match = re.search(r'<form[^>]*id="kc-form-login"[^>]*action="([^"]+)"', html) or re.search(
        r'<form[^>]*action="([^"]+)"', html
    )
    assert match, "no form in page"
    return unescape(match.group(1))


def auth_params(**overrides: str) -> dict[str, str]:
    params = {
        "client_id": "sandbox-proxy",
        "redirect_uri": PROXY_REDIRECT,
        "response_type": "code",
        "scope": "openid profile email",
        "state": "st-1",
        "nonce": "n-1",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def login(
    http: httpx.AsyncClient, username: str = "alice", password: str | None = None, **overrides: str
) -> dict[str, str]:
    """Drive /auth and the login form (skipped by a live SSO cookie); return the redirect's parameters."""
    page = await http.get(f"{OIDC}/auth", params=auth_params(**overrides))
    if page.status_code == 302:
        return redirect_params(page)
    assert page.status_code == 200, page.text
    response = await http.post(form_action(page.text), data={"username": username, "password": password or username})
    return redirect_params(response)


async def redeem(http: httpx.AsyncClient, code: str) -> httpx.Response:
    """The proxy client's code exchange, answered as it is."""
    return await http.post(
        f"{OIDC}/token",
        auth=PROXY,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": PROXY_REDIRECT,
            "code_verifier": VERIFIER,
        },
    )


async def code_tokens(http: httpx.AsyncClient, **overrides: str) -> dict[str, Any]:
    response = await redeem(http, (await login(http, **overrides))["code"])
    assert response.status_code == 200, response.text
    return response.json()


async def admin_token(http: httpx.AsyncClient, username: str = "admin", password: str = "admin") -> dict[str, str]:
    """Authorization header for the admin API: a master-realm admin-cli password grant."""
    response = await http.post(
        "/realms/master/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": "admin-cli", "username": username, "password": password},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


class RecordingTransport(asyncio.Transport):
    """A transport that keeps what is written to it, for a protocol driven by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8080)}.get(name, default)

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def behind_its_shortcut(state_dir: Path) -> tuple[Any, Any]:
    """The realm's app, and the documents' shortcut in front of it as the standalone mock puts it
    (mock_idp.serving.lazy_standalone, there in front of an app built at its first request)."""
    from mock_idp.app import app_of
    from mock_idp.documents import DocumentShortcut
    from mock_idp.realms import open_realms

    realms = open_realms(REALM_PATH, issuer_base=BASE, state_dir=state_dir)
    app = app_of(realms)
    return app, DocumentShortcut(app, realms.documents)
