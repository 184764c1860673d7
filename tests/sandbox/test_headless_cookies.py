"""The headless walk keeps cookies like a browser: Keycloak's Secure, Version=1 cookies on loopback."""

import httpx
import pytest

from sandbox.testing.headless import BrowserCookieJar

KEYCLOAK_COOKIE = "AUTH_SESSION_ID=abc;Version=1;Path=/realms/sandbox/;Secure;HttpOnly;SameSite=None"


def echo_cookies(request: httpx.Request) -> httpx.Response:
    if request.url.path.endswith("/auth"):
        return httpx.Response(200, headers=[("set-cookie", KEYCLOAK_COOKIE)])
    return httpx.Response(200, text=request.headers.get("cookie", ""))


@pytest.mark.parametrize(
    "host, sent",
    [("localhost:8080", "AUTH_SESSION_ID=abc"), ("127.0.0.1:8080", "AUTH_SESSION_ID=abc"), ("idp.example", "")],
)
def test_secure_versioned_cookie_is_sent_back_on_loopback_only(host, sent):
    jar = BrowserCookieJar()
    with httpx.Client(transport=httpx.MockTransport(echo_cookies), cookies=jar) as http:
        http.get(f"http://{host}/realms/sandbox/protocol/openid-connect/auth")
        assert http.post(f"http://{host}/realms/sandbox/login-actions/authenticate").text == sent
        # Path scoping still applies.
        assert http.post(f"http://{host}/elsewhere").text == ""
