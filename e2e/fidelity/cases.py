"""The request builders: each sends one request (or a short flow) to a target and returns what it observed.

A case is named by what it asks; it runs unchanged against the mock and Keycloak. Most are
one request (``request``); flows that need a signed-in user or a token are functions.
Everything a case creates (users, clients) it deletes again, so a case can run twice on
one Keycloak.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from fidelity.target import CLI, PROXY, REDIRECT_URI, Target, pkce_pair, proxy_secret
from sandbox.testing.headless import HeadlessBrowser

Observation = dict[str, Any]
Case = Callable[[Target], Awaitable[Observation]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(function: Case) -> Case:
        if name in CASES:
            raise ValueError(f"two cases named {name!r}")
        CASES[name] = function
        return function

    return register


def request(
    name: str, method: str, path: str, *, auth: str | None = None, keep: frozenset[str] = frozenset(), **kwargs: Any
) -> None:
    """A one-request case; ``path`` is relative to the realm (``{oidc}``: its openid-connect base).
    ``auth``: ``proxy`` (right secret, Basic), ``wrong-secret``."""

    async def run(target: Target) -> Observation:
        url = path.format(oidc=target.oidc, realm=target.realm_url, idp=target.places.idp_base)
        credentials = {"proxy": (PROXY, proxy_secret()), "wrong-secret": (PROXY, "not-the-secret")}.get(auth or "")
        async with target.http() as http:
            response = await http.request(method, url, auth=credentials, **kwargs)
        return target.observe(response, keep=keep)

    case(name)(run)


# -- discovery and keys ---------------------------------------------------------

# Discovery values compared verbatim: what the server offers, and where.
DISCOVERED = frozenset(
    {
        "claims_supported",
        "code_challenge_methods_supported",
        "grant_types_supported",
        "response_types_supported",
        "response_modes_supported",
        "scopes_supported",
        "subject_types_supported",
        "token_endpoint_auth_methods_supported",
        "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported",
        "request_object_signing_alg_values_supported",
        "token_endpoint_auth_signing_alg_values_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
        "claim_types_supported",
        "claims_parameter_supported",
        "request_parameter_supported",
        "request_uri_parameter_supported",
        "require_request_uri_registration",
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
        "authorization_response_iss_parameter_supported",
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "userinfo_endpoint",
        "end_session_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
        "registration_endpoint",
    }
)
request("discovery", "GET", "{realm}/.well-known/openid-configuration", keep=DISCOVERED)
request(
    "discovery.oauth-authorization-server", "GET", "{realm}/.well-known/oauth-authorization-server", keep=DISCOVERED
)
request("discovery.unknown-realm", "GET", "{idp}/realms/no-such-realm/.well-known/openid-configuration")
request("jwks", "GET", "{oidc}/certs")

# -- the authorization endpoint's refusals -----------------------------------------


def auth_request(name: str, **params: str | None) -> None:
    async def run(target: Target) -> Observation:
        _, challenge = pkce_pair()
        query = {"code_challenge": challenge, "code_challenge_method": "S256", **params}
        async with target.http() as http:
            response = await http.get(target.auth_url(**query))
        return target.observe(response)

    case(f"auth.{name}")(run)


auth_request("login-page")
auth_request("unknown-client", client_id="no-such-client")
auth_request("unregistered-redirect", redirect_uri="http://evil.example/cb")
auth_request("missing-redirect", redirect_uri=None)
auth_request("missing-response-type", response_type=None)
auth_request("unknown-response-type", response_type="foo")
auth_request("response-type-token", response_type="token")
auth_request("response-type-id-token", response_type="id_token")
auth_request("missing-pkce", code_challenge=None, code_challenge_method=None)
auth_request("plain-pkce", code_challenge_method="plain")
auth_request("unknown-pkce-method", code_challenge_method="S512")
auth_request("offline-scope-not-allowed", scope="openid offline_access")
auth_request("unknown-scope", scope="openid no-such-scope")
auth_request("no-openid-scope", scope="profile")
auth_request("bad-response-mode", response_mode="nope")
auth_request("prompt-none-without-session", prompt="none")
auth_request("proxy-client-missing-redirect", client_id=PROXY, redirect_uri=None)


# -- the login form ----------------------------------------------------------------


async def _login_page(target: Target, http: httpx.AsyncClient) -> httpx.Response:
    _, challenge = pkce_pair()
    page = await http.get(target.auth_url(code_challenge=challenge, code_challenge_method="S256"))
    assert page.status_code == 200, page.text[:300]
    return page


def _form_action(text: str) -> str:
    from sandbox.testing.forms import parse_page

    form = parse_page(text).form("kc-form-login")
    assert form is not None, text[:300]
    return form.action.replace("&amp;", "&")


def login_attempt(name: str, username: str, password: str) -> None:
    async def run(target: Target) -> Observation:
        from sandbox.testing.headless import BrowserCookieJar

        async with target.http(cookies=BrowserCookieJar()) as http:
            page = await _login_page(target, http)
            response = await http.post(
                _form_action(page.text), data={"username": username, "password": password, "credentialId": ""}
            )
        return {"page": target.observe(page), "answer": target.observe(response)}

    case(f"login.{name}")(run)


login_attempt("right-password", "alice", "alice")
login_attempt("wrong-password", "alice", "not-alice")
login_attempt("unknown-user", "nobody", "nobody")
login_attempt("by-email", "alice@example.com", "alice")
login_attempt("username-in-upper-case", "ALICE", "alice")
login_attempt("empty-form", "", "")


@case("login.without-browser-cookies")
async def login_without_cookies(target: Target) -> Observation:
    """The login form posted by a browser that did not keep the cookies the form page set."""
    async with target.http() as http:
        page = await _login_page(target, http)
        http.cookies.clear()
        response = await http.post(
            _form_action(page.text), data={"username": "alice", "password": "alice", "credentialId": ""}
        )
    return target.observe(response)


@case("login.sso-second-authorization")
async def sso_second(target: Target) -> Observation:
    browser, _, _ = await target.sign_in("bob")
    async with target.http(cookies=browser.cookies) as http:
        again = await http.get(target.auth_url(code_challenge=pkce_pair()[1], code_challenge_method="S256"))
        none = await http.get(
            target.auth_url(code_challenge=pkce_pair()[1], code_challenge_method="S256", prompt="none")
        )
        login = await http.get(
            target.auth_url(code_challenge=pkce_pair()[1], code_challenge_method="S256", prompt="login")
        )
        recent = await http.get(
            target.auth_url(code_challenge=pkce_pair()[1], code_challenge_method="S256", max_age="3600")
        )
    return {
        name: target.observe(response)
        for name, response in (
            ("again", again),
            ("prompt-none", none),
            ("prompt-login", login),
            ("max-age-not-reached", recent),
        )
    }


@case("login.max-age-passed")
async def max_age_passed(target: Target) -> Observation:
    """``max_age`` shorter than the time since login: the user must sign in again."""
    browser, _, _ = await target.sign_in("bob")
    await asyncio.sleep(2.1)  # auth_time has whole seconds: 2 s are surely more than max_age=1
    async with target.http(cookies=browser.cookies) as http:
        response = await http.get(
            target.auth_url(code_challenge=pkce_pair()[1], code_challenge_method="S256", max_age="1")
        )
    return target.observe(response)


# -- the token endpoint ------------------------------------------------------------

request("token.no-grant-type", "POST", "{oidc}/token", data={"client_id": CLI})
request("token.unknown-grant-type", "POST", "{oidc}/token", data={"client_id": CLI, "grant_type": "magic"})
request(
    "token.no-client", "POST", "{oidc}/token", data={"grant_type": "password", "username": "alice", "password": "alice"}
)
request(
    "token.unknown-client",
    "POST",
    "{oidc}/token",
    data={"grant_type": "password", "client_id": "no-such-client", "username": "alice", "password": "alice"},
)
request(
    "token.wrong-client-secret", "POST", "{oidc}/token", auth="wrong-secret", data={"grant_type": "client_credentials"}
)
request(
    "token.confidential-without-secret",
    "POST",
    "{oidc}/token",
    data={"grant_type": "client_credentials", "client_id": PROXY},
)
request(
    "token.client-credentials-not-enabled",
    "POST",
    "{oidc}/token",
    auth="proxy",
    data={"grant_type": "client_credentials"},
)
request(
    "token.client-credentials-public",
    "POST",
    "{oidc}/token",
    data={"grant_type": "client_credentials", "client_id": CLI},
)
request(
    "token.password-not-enabled",
    "POST",
    "{oidc}/token",
    auth="proxy",
    data={"grant_type": "password", "username": "alice", "password": "alice"},
)
request(
    "token.code-missing",
    "POST",
    "{oidc}/token",
    data={"grant_type": "authorization_code", "client_id": CLI, "redirect_uri": REDIRECT_URI},
)
request(
    "token.code-unknown",
    "POST",
    "{oidc}/token",
    data={"grant_type": "authorization_code", "client_id": CLI, "code": "not-a-code", "redirect_uri": REDIRECT_URI},
)
request("token.refresh-missing", "POST", "{oidc}/token", data={"grant_type": "refresh_token", "client_id": CLI})
request(
    "token.refresh-garbage",
    "POST",
    "{oidc}/token",
    data={"grant_type": "refresh_token", "client_id": CLI, "refresh_token": "garbage"},
)
request("token.not-a-form", "POST", "{oidc}/token", json={"grant_type": "password", "client_id": CLI})
request("token.get", "GET", "{oidc}/token")
request(
    "token.basic-header-garbage",
    "POST",
    "{oidc}/token",
    headers={"Authorization": "Basic !!!"},
    data={"grant_type": "client_credentials"},
)


def password_grant(name: str, username: str = "alice", password: str = "alice", **extra: str) -> None:
    request(
        f"token.password.{name}",
        "POST",
        "{oidc}/token",
        data={"grant_type": "password", "client_id": CLI, "username": username, "password": password, **extra},
    )


password_grant("openid", scope="openid")
password_grant("no-scope")
password_grant("profile-email", scope="openid profile email")
password_grant("wrong-password", password="wrong")
password_grant("unknown-user", username="nobody", password="nobody")
password_grant("missing-password", password="")
password_grant("offline-not-allowed", scope="openid offline_access")
password_grant("unknown-scope", scope="openid no-such-scope")
password_grant("by-email", username="alice@example.com")
password_grant("username-in-upper-case", username="ALICE")


async def _redeem(target: Target, code: str, verifier: str | None, **overrides: str) -> httpx.Response:
    data = {"grant_type": "authorization_code", "client_id": CLI, "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier
    async with target.http() as http:
        return await http.post(f"{target.oidc}/token", data={**data, **overrides})


@case("token.code.pkce")
async def code_pkce(target: Target) -> Observation:
    _, code, verifier = await target.sign_in("alice", scope="openid profile email", nonce="n-1")
    return target.observe(await _redeem(target, code, verifier))


@case("token.code.reused")
async def code_reused(target: Target) -> Observation:
    _, code, verifier = await target.sign_in("bob")
    first = await _redeem(target, code, verifier)
    return target.observe(await _redeem(target, code, verifier)) | {"first_status": first.status_code}


@case("token.code.wrong-verifier")
async def code_wrong_verifier(target: Target) -> Observation:
    _, code, _ = await target.sign_in("bob")
    return target.observe(await _redeem(target, code, pkce_pair()[0]))


@case("token.code.no-verifier")
async def code_no_verifier(target: Target) -> Observation:
    _, code, _ = await target.sign_in("bob")
    return target.observe(await _redeem(target, code, None))


@case("token.code.wrong-redirect-uri")
async def code_wrong_redirect(target: Target) -> Observation:
    _, code, verifier = await target.sign_in("bob")
    return target.observe(await _redeem(target, code, verifier, redirect_uri="http://127.0.0.1:53682/other"))


@case("token.code.other-client")
async def code_other_client(target: Target) -> Observation:
    _, code, verifier = await target.sign_in("bob")
    async with target.http() as http:
        response = await http.post(
            f"{target.oidc}/token",
            auth=(PROXY, proxy_secret()),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        )
    return target.observe(response)


@case("token.code.proxy-client")
async def code_proxy(target: Target) -> Observation:
    return {"tokens": target.places and _shape_tokens(target, await target.proxy_tokens("alice"))}


def _shape_tokens(target: Target, tokens: dict[str, Any]) -> Any:
    from fidelity.observe import shape

    return shape(tokens, target.places)


@case("token.refresh")
async def refresh(target: Target) -> Observation:
    tokens = await target.password_tokens("alice", "openid")
    async with target.http() as http:
        response = await http.post(
            f"{target.oidc}/token",
            data={"grant_type": "refresh_token", "client_id": CLI, "refresh_token": tokens["refresh_token"]},
        )
        reused = await http.post(
            f"{target.oidc}/token",
            data={"grant_type": "refresh_token", "client_id": CLI, "refresh_token": tokens["refresh_token"]},
        )
    return {"refreshed": target.observe(response), "old-refresh-token-again": target.observe(reused)}


@case("token.refresh.other-client")
async def refresh_other_client(target: Target) -> Observation:
    tokens = await target.password_tokens("alice", "openid")
    async with target.http() as http:
        response = await http.post(
            f"{target.oidc}/token",
            auth=(PROXY, proxy_secret()),
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        )
    return target.observe(response)


@case("token.refresh.access-token-instead")
async def refresh_with_access(target: Target) -> Observation:
    tokens = await target.password_tokens("alice", "openid")
    async with target.http() as http:
        response = await http.post(
            f"{target.oidc}/token",
            data={"grant_type": "refresh_token", "client_id": CLI, "refresh_token": tokens["access_token"]},
        )
    return target.observe(response)


# -- userinfo ------------------------------------------------------------------------

request("userinfo.no-token", "GET", "{oidc}/userinfo")
request("userinfo.garbage-token", "GET", "{oidc}/userinfo", headers={"Authorization": "Bearer garbage"})


@case("userinfo.bearer")
async def userinfo_bearer(target: Target) -> Observation:
    tokens = await target.password_tokens("alice", "openid profile email")
    async with target.http() as http:
        get = await http.get(f"{target.oidc}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        post = await http.post(f"{target.oidc}/userinfo", data={"access_token": tokens["access_token"]})
    return {"get": target.observe(get), "post-form": target.observe(post)}


def userinfo_with(name: str, scope: str, token: str) -> None:
    """Userinfo asked with the ``token`` (``access_token``, ``id_token``) of a grant for ``scope``."""

    async def run(target: Target) -> Observation:
        tokens = await target.password_tokens("alice", scope)
        async with target.http() as http:
            response = await http.get(f"{target.oidc}/userinfo", headers={"Authorization": f"Bearer {tokens[token]}"})
        return target.observe(response)

    case(f"userinfo.{name}")(run)


userinfo_with("without-openid-scope", "profile", "access_token")
userinfo_with("id-token-as-bearer", "openid", "id_token")


# -- introspection ------------------------------------------------------------------

request("introspect.no-token", "POST", "{oidc}/token/introspect", auth="proxy", data={})
request("introspect.garbage", "POST", "{oidc}/token/introspect", auth="proxy", data={"token": "garbage"})
request("introspect.wrong-secret", "POST", "{oidc}/token/introspect", auth="wrong-secret", data={"token": "garbage"})
request("introspect.public-client", "POST", "{oidc}/token/introspect", data={"client_id": CLI, "token": "garbage"})
request("introspect.no-client", "POST", "{oidc}/token/introspect", data={"token": "garbage"})


async def _introspect(target: Target, token: str, hint: str | None = None, client: str = PROXY) -> Observation:
    data = {"token": token, **({"token_type_hint": hint} if hint else {})}
    async with target.http() as http:
        if client == PROXY:
            response = await http.post(f"{target.oidc}/token/introspect", auth=(PROXY, proxy_secret()), data=data)
        else:
            response = await http.post(f"{target.oidc}/token/introspect", data={**data, "client_id": client})
    return target.observe(response)


@case("introspect.proxy-own-tokens")
async def introspect_own(target: Target) -> Observation:
    tokens = await target.proxy_tokens("alice")
    return {
        "access": await _introspect(target, tokens["access_token"]),
        "access-hinted": await _introspect(target, tokens["access_token"], "access_token"),
        "access-hinted-as-refresh": await _introspect(target, tokens["access_token"], "refresh_token"),
        "refresh": await _introspect(target, tokens["refresh_token"], "refresh_token"),
        "refresh-hinted-as-access": await _introspect(target, tokens["refresh_token"], "access_token"),
        "id": await _introspect(target, tokens["id_token"]),
        "unknown-hint": await _introspect(target, tokens["access_token"], "magic"),
    }


@case("introspect.another-clients-tokens")
async def introspect_other(target: Target) -> Observation:
    """The proxy asks about sandbox-cli's tokens: it is not in their audience."""
    tokens = await target.password_tokens("alice", "openid")
    return {
        "access": await _introspect(target, tokens["access_token"]),
        "refresh": await _introspect(target, tokens["refresh_token"], "refresh_token"),
    }


# -- revocation -----------------------------------------------------------------------

request("revoke.no-token", "POST", "{oidc}/revoke", data={"client_id": CLI})
request("revoke.garbage", "POST", "{oidc}/revoke", data={"client_id": CLI, "token": "garbage"})
request("revoke.no-client", "POST", "{oidc}/revoke", data={"token": "garbage"})
request("revoke.wrong-secret", "POST", "{oidc}/revoke", auth="wrong-secret", data={"token": "garbage"})


async def _revoke(target: Target, http: httpx.AsyncClient, token: str, hint: str | None = None) -> httpx.Response:
    data = {"client_id": CLI, "token": token, **({"token_type_hint": hint} if hint else {})}
    return await http.post(f"{target.oidc}/revoke", data=data)


@case("revoke.refresh-token")
async def revoke_refresh(target: Target) -> Observation:
    tokens = await target.password_tokens("alice", "openid")
    async with target.http() as http:
        revoked = await _revoke(target, http, tokens["refresh_token"], "refresh_token")
        refresh = await http.post(
            f"{target.oidc}/token",
            data={"grant_type": "refresh_token", "client_id": CLI, "refresh_token": tokens["refresh_token"]},
        )
        userinfo = await http.get(
            f"{target.oidc}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
    return {
        "revoke": target.observe(revoked),
        "refresh-after": target.observe(refresh),
        "userinfo-after": target.observe(userinfo),
    }


@case("revoke.access-token")
async def revoke_access(target: Target) -> Observation:
    tokens = await target.password_tokens("alice", "openid")
    async with target.http() as http:
        revoked = await _revoke(target, http, tokens["access_token"], "access_token")
        userinfo = await http.get(
            f"{target.oidc}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        refresh = await http.post(
            f"{target.oidc}/token",
            data={"grant_type": "refresh_token", "client_id": CLI, "refresh_token": tokens["refresh_token"]},
        )
    return {
        "revoke": target.observe(revoked),
        "userinfo-after": target.observe(userinfo),
        "refresh-after": target.observe(refresh),
    }


@case("revoke.id-token")
async def revoke_id(target: Target) -> Observation:
    tokens = await target.password_tokens("alice", "openid")
    async with target.http() as http:
        return target.observe(await _revoke(target, http, tokens["id_token"]))


@case("revoke.by-another-client")
async def revoke_other(target: Target) -> Observation:
    tokens = await target.password_tokens("alice", "openid")
    async with target.http() as http:
        response = await http.post(
            f"{target.oidc}/revoke", auth=(PROXY, proxy_secret()), data={"token": tokens["refresh_token"]}
        )
    return target.observe(response)


# -- logout -----------------------------------------------------------------------------

request("logout.no-parameters", "GET", "{oidc}/logout")
request(
    "logout.unregistered-post-logout-uri",
    "GET",
    "{oidc}/logout",
    params={"client_id": CLI, "post_logout_redirect_uri": "http://evil.example/bye"},
)
request("logout.garbage-id-token-hint", "GET", "{oidc}/logout", params={"id_token_hint": "garbage"})


@case("logout.with-id-token-hint")
async def logout_hint(target: Target) -> Observation:
    browser, code, verifier = await target.sign_in("bob")
    tokens = (await _redeem(target, code, verifier)).json()
    async with target.http(cookies=browser.cookies) as http:
        response = await http.get(
            f"{target.oidc}/logout",
            params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": REDIRECT_URI, "state": "bye"},
        )
        refresh = await http.post(
            f"{target.oidc}/token",
            data={"grant_type": "refresh_token", "client_id": CLI, "refresh_token": tokens["refresh_token"]},
        )
        again = await http.get(
            target.auth_url(code_challenge=pkce_pair()[1], code_challenge_method="S256", prompt="none")
        )
    return {
        "logout": target.observe(response),
        "refresh-after": target.observe(refresh),
        "prompt-none-after": target.observe(again),
    }


# -- dynamic client registration ----------------------------------------------------------


async def _register(
    target: Target, metadata: dict[str, Any], admin: dict[str, str] | None = None
) -> tuple[httpx.Response, Observation]:
    async with target.http() as http:
        response = await http.post(f"{target.realm_url}/clients-registrations/openid-connect", json=metadata)
        if response.status_code == 201:
            created = response.json()
            # Registration leaves a client behind in Keycloak: delete it with its own token.
            await http.delete(
                f"{target.realm_url}/clients-registrations/openid-connect/{created['client_id']}",
                headers={"Authorization": f"Bearer {created['registration_access_token']}"},
            )
    return response, target.observe(response)


def registration(name: str, metadata: dict[str, Any]) -> None:
    async def run(target: Target) -> Observation:
        return (await _register(target, metadata))[1]

    case(f"dcr.{name}")(run)


LOOPBACK_CLIENT = {
    "client_name": "fidelity",
    "redirect_uris": ["http://127.0.0.1:53682/callback"],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
}
registration("public-loopback", LOOPBACK_CLIENT)
registration("confidential", {**LOOPBACK_CLIENT, "token_endpoint_auth_method": "client_secret_basic"})
registration("with-scope", {**LOOPBACK_CLIENT, "scope": "openid profile offline_access"})
registration("client-secret-jwt", {**LOOPBACK_CLIENT, "token_endpoint_auth_method": "client_secret_jwt"})
registration("no-redirect-uris", {"client_name": "fidelity", "token_endpoint_auth_method": "none"})
registration("untrusted-redirect-host", {**LOOPBACK_CLIENT, "redirect_uris": ["https://evil.example/cb"]})
registration("unknown-field", {**LOOPBACK_CLIENT, "no_such_field": True})
registration("redirect-uri-not-a-list", {**LOOPBACK_CLIENT, "redirect_uris": "http://127.0.0.1/cb"})
registration("unknown-auth-method", {**LOOPBACK_CLIENT, "token_endpoint_auth_method": "magic"})
request(
    "dcr.not-json",
    "POST",
    "{realm}/clients-registrations/openid-connect",
    content=b"not json",
    headers={"Content-Type": "application/json"},
)
request("dcr.json-array", "POST", "{realm}/clients-registrations/openid-connect", json=[1, 2])
request("dcr.read-without-token", "GET", "{realm}/clients-registrations/openid-connect/no-such-client")


@case("dcr.read-and-sign-in")
async def dcr_read(target: Target) -> Observation:
    async with target.http() as http:
        created = await http.post(
            f"{target.realm_url}/clients-registrations/openid-connect",
            json={**LOOPBACK_CLIENT, "scope": "openid offline_access"},
        )
        body = created.json()
        token = {"Authorization": f"Bearer {body['registration_access_token']}"}
        url = f"{target.realm_url}/clients-registrations/openid-connect/{body['client_id']}"
        try:
            read = await http.get(url, headers=token)
            _, code, verifier = await target.sign_in(
                "alice", client_id=body["client_id"], scope="openid offline_access"
            )
            tokens = await http.post(
                f"{target.oidc}/token",
                data={
                    "grant_type": "authorization_code",
                    "client_id": body["client_id"],
                    "code": code,
                    "redirect_uri": REDIRECT_URI,
                    "code_verifier": verifier,
                },
            )
        finally:
            # Keycloak rotates the registration token on every read.
            latest = (read.json() if read.status_code == 200 else {}).get(
                "registration_access_token", body["registration_access_token"]
            )
            deleted = await http.delete(url, headers={"Authorization": f"Bearer {latest}"})
    return {"read": target.observe(read), "offline-tokens": target.observe(tokens), "delete": target.observe(deleted)}


# -- the admin API subset IdpControl uses -------------------------------------------------

CAROL = "fidelity-carol"


async def _admin(target: Target, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with target.http(headers=await target.admin_headers()) as http:
        return await http.request(method, f"{target.admin_url}{path}", **kwargs)


async def _user_id(target: Target, username: str) -> str | None:
    found = (await _admin(target, "GET", "/users", params={"username": username, "exact": "true"})).json()
    return found[0]["id"] if found else None


async def _delete_user(target: Target, username: str) -> None:
    user_id = await _user_id(target, username)
    if user_id is not None:
        await _admin(target, "DELETE", f"/users/{user_id}")


def admin_request(name: str, method: str, path: str, **kwargs: Any) -> None:
    async def run(target: Target) -> Observation:
        return target.observe(await _admin(target, method, path, **kwargs))

    case(f"admin.{name}")(run)


admin_request("users-search", "GET", "/users", params={"username": "alice", "exact": "true"})
admin_request("roles", "GET", "/roles")
admin_request("role", "GET", "/roles/mcp-admin")
admin_request("unknown-role", "GET", "/roles/no-such-role")
admin_request("unknown-user", "GET", "/users/00000000-0000-0000-0000-000000000000")
admin_request("create-user-no-username", "POST", "/users", json={"enabled": True})
admin_request("create-existing-user", "POST", "/users", json={"username": "alice", "enabled": True})
request("admin.no-token", "GET", "{idp}/admin/realms/sandbox/users")
request("admin.garbage-token", "GET", "{idp}/admin/realms/sandbox/users", headers={"Authorization": "Bearer garbage"})


@case("admin.user-lifecycle")
async def user_lifecycle(target: Target) -> Observation:
    await _delete_user(target, CAROL)
    observed: Observation = {}
    created = await _admin(
        target,
        "POST",
        "/users",
        json={
            "username": CAROL,
            "enabled": True,
            "credentials": [{"type": "password", "value": "carol", "temporary": False}],
        },
    )
    observed["create"] = target.observe(created)
    try:
        user_id = await _user_id(target, CAROL)
        assert user_id is not None
        observed["get"] = target.observe(await _admin(target, "GET", f"/users/{user_id}"))
        async with target.http() as http:
            grant = await http.post(
                f"{target.oidc}/token",
                data={
                    "grant_type": "password",
                    "client_id": CLI,
                    "username": CAROL,
                    "password": "carol",
                    "scope": "openid",
                },
            )
        observed["password-grant-without-profile"] = target.observe(grant)
        observed["update-profile"] = target.observe(
            await _admin(
                target,
                "PUT",
                f"/users/{user_id}",
                json={"firstName": "Carol", "lastName": "Danvers", "email": "carol@example.com", "emailVerified": True},
            )
        )
        observed["get-after-profile"] = target.observe(await _admin(target, "GET", f"/users/{user_id}"))
        observed["update-attributes-only"] = target.observe(
            await _admin(target, "PUT", f"/users/{user_id}", json={"attributes": {"team": ["blue"]}})
        )
        observed["get-after-attributes"] = target.observe(await _admin(target, "GET", f"/users/{user_id}"))
        observed["reset-password"] = target.observe(
            await _admin(
                target,
                "PUT",
                f"/users/{user_id}/reset-password",
                json={"type": "password", "value": "carol2", "temporary": False},
            )
        )
        role = (await _admin(target, "GET", "/roles/mcp-user")).json()
        observed["add-role"] = target.observe(
            await _admin(target, "POST", f"/users/{user_id}/role-mappings/realm", json=[role])
        )
        observed["roles"] = target.observe(await _admin(target, "GET", f"/users/{user_id}/role-mappings/realm"))
        observed["composite-roles"] = target.observe(
            await _admin(target, "GET", f"/users/{user_id}/role-mappings/realm/composite")
        )
        observed["remove-role"] = target.observe(
            await _admin(target, "DELETE", f"/users/{user_id}/role-mappings/realm", json=[role])
        )
    finally:
        user_id = await _user_id(target, CAROL)
        if user_id is not None:
            observed["delete"] = target.observe(await _admin(target, "DELETE", f"/users/{user_id}"))
    return observed


@case("admin.temporary-password")
async def temporary_password(target: Target) -> Observation:
    await _delete_user(target, CAROL)
    await _admin(
        target,
        "POST",
        "/users",
        json={
            "username": CAROL,
            "enabled": True,
            "email": "carol@example.com",
            "emailVerified": True,
            "firstName": "Carol",
            "lastName": "Danvers",
        },
    )
    try:
        user_id = await _user_id(target, CAROL)
        await _admin(
            target,
            "PUT",
            f"/users/{user_id}/reset-password",
            json={"type": "password", "value": "carol", "temporary": True},
        )
        async with target.http() as http:
            grant = await http.post(
                f"{target.oidc}/token",
                data={"grant_type": "password", "client_id": CLI, "username": CAROL, "password": "carol"},
            )
        browser = HeadlessBrowser(CAROL, "carol")
        async with target.http(cookies=browser.cookies) as http:
            page = await _login_page(target, http)
            answer = await http.post(
                _form_action(page.text), data={"username": CAROL, "password": "carol", "credentialId": ""}
            )
        return {"password-grant": target.observe(grant), "login": target.observe(answer)}
    finally:
        await _delete_user(target, CAROL)
