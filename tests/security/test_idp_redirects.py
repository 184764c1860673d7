"""Redirect-URI tricks at the identity provider: a signed-in victim opens an /auth (or logout)
URL the attacker wrote, and the code (or the browser) must not go anywhere unregistered.

RFC 9700 §4.1 (insufficient redirect URI validation) and §2.1: the authorization server
compares redirect URIs exactly, except for the port of a loopback URI; RFC 6749 §3.1.2.2 and
§10.6. Keycloak 26.7 refuses each of these with its "Invalid parameter: redirect_uri" page
(400), and logout's ``post_logout_redirect_uri`` with "Invalid redirect uri"; the mock follows
its rules (``mock_idp/redirects.py``). Each test runs on both backends.
"""

from __future__ import annotations

import pytest
from idp_attacks import CALLBACK, auth_url, error_message, logout_url, redirect_query, signed_in

INVALID_REDIRECT = "Invalid parameter: redirect_uri"


@pytest.fixture
async def victim(sandbox):
    async with signed_in(sandbox.realm_url) as browser:
        yield browser


async def assert_refused_at_auth(victim, sandbox, redirect_uri: str, **params: str) -> None:
    response = await victim.get(auth_url(sandbox.realm_url, redirect_uri=redirect_uri, **params))
    assert response.status_code == 400, response.headers.get("location")
    assert error_message(response) == INVALID_REDIRECT


async def test_the_registered_pattern_still_gets_the_code(sandbox, victim):
    """The control: with the victim's SSO cookie, a URI the client registered gets a code at once."""
    response = await victim.get(auth_url(sandbox.realm_url, redirect_uri=CALLBACK))
    assert response.status_code == 302 and response.headers["location"].startswith(f"{CALLBACK}?")
    assert redirect_query(response)["code"]


async def test_userinfo_in_the_redirect_uri_is_refused(sandbox, victim):
    """RFC 9700 §4.1.1 (open redirector via user-info): ``http://localhost:1@evil.example/cb``
    starts with the registered ``http://localhost:`` but its host is evil.example. Keycloak
    allows no wildcard match for a URI with user-info."""
    await assert_refused_at_auth(victim, sandbox, "http://localhost:1@evil.example/cb")


@pytest.mark.parametrize(
    "path",
    [
        "/cb/../../evil",
        "/cb/..",
        "/%2e%2e/evil",
        "/cb/%2E%2E/evil",
        "/cb%2f..%2fevil",
        "/%252e%252e/evil",
        "/cb/..;evil",
    ],
)
async def test_path_traversal_in_the_redirect_uri_is_refused(sandbox, victim, path):
    """RFC 9700 §4.1.3 (path traversal out of a registered prefix): a parent segment, raw or
    encoded (``%2e``, ``%252e``, ``%2f`` separators), voids Keycloak's wildcard match."""
    await assert_refused_at_auth(victim, sandbox, f"http://localhost:53211{path}")


@pytest.mark.parametrize(
    "uri",
    [
        "http://evil.example/cb",
        "http://localhost.evil.example/cb",
        "http://localhost:53211.evil.example/cb",
        "http://LOCALHOST:53211/cb",
    ],
)
async def test_another_host_is_refused(sandbox, victim, uri):
    """RFC 6749 §3.1.2.2 / RFC 9700 §2.1: the host must be the registered one, byte for byte
    (no case folding; a port that is not a number is no port)."""
    await assert_refused_at_auth(victim, sandbox, uri)


@pytest.mark.parametrize(
    "uri", ["https://localhost:53211/cb", "javascript:alert(document.domain)", "data:text/html,x", "localhost:53211/cb"]
)
async def test_another_scheme_is_refused(sandbox, victim, uri):
    """RFC 6749 §3.1.2.2, RFC 8252 §7.3: ``http://localhost:*`` registers plain http on
    loopback only; a script or data URI would run the response in the IdP's origin."""
    await assert_refused_at_auth(victim, sandbox, uri)


async def test_a_fragment_on_an_exact_redirect_uri_is_refused(sandbox, victim):
    """RFC 6749 §3.1.2: the redirect endpoint URI must not include a fragment; an exactly
    registered URI (the proxy's callback) matches only itself."""
    callback = f"{sandbox.base_url}/auth/callback"
    response = await victim.get(auth_url(sandbox.realm_url, client_id="sandbox-proxy", redirect_uri=f"{callback}#evil"))
    assert response.status_code == 400 and error_message(response) == INVALID_REDIRECT


async def test_a_fragment_under_a_wildcard_cannot_move_the_code(sandbox, victim):
    """Keycloak lets a wildcard entry match a URI with a fragment and keeps the fragment after
    the response: the code still lands at the registered host, in the query."""
    response = await victim.get(auth_url(sandbox.realm_url, redirect_uri=f"{CALLBACK}#@evil.example"))
    location = response.headers["location"]
    assert response.status_code == 302 and location.startswith(f"{CALLBACK}?") and location.endswith("#@evil.example")
    assert redirect_query(response)["code"]


@pytest.mark.parametrize("param", ["code", "state", "iss", "error", "session_state"])
async def test_response_parameters_in_the_redirect_uri_are_refused(sandbox, victim, param):
    """RFC 9700 §4.2.4 / OAuth 2.1 §7.12 (parameter pollution): a redirect URI that already
    carries a response parameter could make the client read the attacker's value first."""
    await assert_refused_at_auth(victim, sandbox, f"{CALLBACK}?{param}=attacker")


@pytest.mark.parametrize(
    "uri",
    [
        "http://localhost:1@evil.example/cb",
        "http://localhost:53211/cb/../../evil",
        "http://localhost:53211/%2e%2e/evil",
        "http://evil.example/cb",
        "https://localhost:53211/cb",
        f"{CALLBACK}?state=attacker",
    ],
)
async def test_logout_refuses_the_same_redirect_tricks(sandbox, victim, uri):
    """OIDC RP-Initiated Logout 1.0 §3: ``post_logout_redirect_uri`` must match one the client
    registered, by the same rules as at /auth; the victim is not logged out either."""
    response = await victim.get(logout_url(sandbox.realm_url, client_id="sandbox-cli", post_logout_redirect_uri=uri))
    assert response.status_code == 400 and error_message(response) == "Invalid redirect uri"
    still = await victim.get(auth_url(sandbox.realm_url, prompt="none"))
    assert redirect_query(still).get("code"), still.headers.get("location")
