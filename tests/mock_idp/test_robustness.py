"""Junk input gets a 4xx with a JSON (or, for browser pages, HTML) error, never a 500."""

from __future__ import annotations

import pytest
from mockidp_support import ISSUER, OIDC, PROXY

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
JSON_ENDPOINTS = [f"{OIDC}/token", f"{OIDC}/token/introspect", f"{OIDC}/revoke"]


@pytest.mark.parametrize("url", [*JSON_ENDPOINTS, f"{ISSUER}/clients-registrations/openid-connect"])
async def test_oversized_bodies_are_413(client, url):
    content_type = "application/json" if "registrations" in url else FORM["Content-Type"]
    big = b"a=" + b"x" * (64 * 1024 + 1)
    response = await client.post(url, content=big, headers={"Content-Type": content_type})
    assert response.status_code == 413 and response.json()["error"] == "invalid_request"


async def test_oversized_chunked_body_is_413_without_content_length(client):
    async def chunks():
        for _ in range(100):
            yield b"x" * 1024

    response = await client.post(f"{OIDC}/token", content=chunks(), headers=FORM)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "content, headers",
    [
        (b"grant_type=authorization_code", {"Content-Type": "application/json"}),
        (b'{"grant_type": "password"}', {"Content-Type": "application/json"}),
        (b"grant_type=%ff%fe", FORM),
        (b"\xff\xfe\x00", FORM),
        (b"grant_type=password&grant_type=password", FORM),
        (b"grant_type=refresh_token&refresh_token=" + b"a" * 50000, FORM),
        (b"grant_type=refresh_token&refresh_token=%00", FORM),
        (b"grant_type=authorization_code&code=", FORM),
        (b"", {}),
        (b"&&&===", FORM),
    ],
)
@pytest.mark.parametrize("url", JSON_ENDPOINTS)
async def test_junk_bodies_are_4xx_json(client, url, content, headers):
    response = await client.post(url, content=content, headers=headers, auth=PROXY)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "error" in response.json()


@pytest.mark.parametrize(
    "auth_header",
    ["Basic !!!notbase64", "Basic " + "AAAA", "Basic /w==", "Bearer x", "Basic"],
)
async def test_broken_client_auth_headers_are_401(client, auth_header):
    response = await client.post(
        f"{OIDC}/token", content=b"grant_type=client_credentials", headers={**FORM, "Authorization": auth_header}
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "query",
    [
        "client_id=%ff",
        "client_id=a&client_id=b",
        "response_type=code",
        "client_id=sandbox-proxy&redirect_uri=%00",
        "client_id=" + "x" * 5000,
    ],
)
async def test_junk_authorization_requests_are_400_pages(client, query):
    response = await client.get(f"{OIDC}/auth?{query}")
    assert response.status_code == 400 and "kc-error-message" in response.text


@pytest.mark.parametrize(
    "method, url", [("PUT", f"{OIDC}/token"), ("DELETE", f"{OIDC}/certs"), ("GET", f"{OIDC}/token")]
)
async def test_wrong_methods_are_405_json(client, method, url):
    response = await client.request(method, url)
    assert response.status_code == 405 and response.json() == {"error": "HTTP 405 Method Not Allowed"}


async def test_junk_login_form_posts(client):
    page = await client.get(
        f"{OIDC}/auth",
        params={
            "client_id": "sandbox-cli",
            "redirect_uri": "http://localhost:1/cb",
            "response_type": "code",
            "code_challenge": "c" * 43,
            "code_challenge_method": "S256",
        },
    )
    action = page.text.split('action="')[1].split('"')[0].replace("&amp;", "&")
    for content, headers in (
        (b"\xff", FORM),
        (b"username=a&username=b", FORM),
        (b"{}", {"Content-Type": "application/json"}),
    ):
        response = await client.post(action, content=content, headers=headers)
        # A page for the person at the browser, as Keycloak shows, never a redirect or JSON.
        assert response.status_code == 400 and "kc-error-message" in response.text
