"""Fuzzing the OAuth endpoints through real HTTP: no input gets a 5xx or a cut connection.

Hypothesis generates the bodies and parameters of the proxy's /register, /token,
/authorize and /consent, and of the mock IdP's token, login (login-actions/authenticate)
and DCR endpoints, mixing well-formed values (registered client ids, live consent and
login sessions) with hostile ones. A response aborted half-way raises in httpx, so
"zero aborted responses" is checked by every request; "zero 5xx" by ``assert_handled``.

Bounded and repeatable: derandomised, a fixed number of examples per endpoint, no
example database, so every run sends the same requests (about 1000 in all).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robust_support import DCR, FORM, OIDC, mock_sandbox

from mock_idp.pkce import s256
from sandbox.testing.forms import parse_page
from sandbox.testing.headless import BrowserCookieJar
from sandbox.testing.server import RunningSandbox

# It starts a mock sandbox of its own; `make test` runs it, the Keycloak run would only repeat it.
pytestmark = pytest.mark.mock_only
EXAMPLES = 120
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
REDIRECT_URI = "http://localhost:43117/callback"
VERIFIER = "v" * 50

# Values that have broken parsers before, or that a redirect matcher must refuse.
HOSTILE = [
    "",
    " ",
    "\x00",
    "%00",
    "%ff%fe",
    "\ud7ff",
    "\u202e",
    "😀",
    "null",
    "[]",
    "{}",
    "a" * 3000,
    "http://localhost:1@evil.example/cb",
    "http://localhost:1/../cb",
    "http://localhost:1/%2e%2e/cb",
    "http://localhost:*",
    "javascript:alert(1)",
    "//evil.example",
    "http://[::1",
    "http://localhost:99999/cb",
    "S256",
    "plain",
    "none",
    "openid",
    "openid profile email offline_access",
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "-1",
    "1e309",
    "true",
    "a=b&c=d",
    "../../etc/passwd",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    base64.urlsafe_b64encode(b"[" * 500).decode() + ".e30.x",
]
TEXT = st.one_of(st.text(max_size=40), st.sampled_from(HOSTILE))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
CONTENT_TYPES = st.sampled_from(
    [
        FORM,
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
        "application/x-www-form-urlencoded; charset=latin-1",
    ]
)
RAW = st.tuples(st.binary(max_size=300), CONTENT_TYPES)


def mutated(
    base: dict[str, Any], names: list[str], values: st.SearchStrategy[Any] = TEXT
) -> st.SearchStrategy[dict[str, Any]]:
    """``base`` (a request that gets past the first checks) with up to three fields replaced
    by hostile values or dropped, and maybe an unknown one added: deep coverage, since a
    request with every field random stops at the first check."""
    change = st.tuples(st.sampled_from(names), st.none() | values)  # None: leave the field out

    def apply(changes: list[tuple[str, Any]], unknown: dict[str, Any]) -> dict[str, Any]:
        result = {**base, **unknown}
        for name, value in changes:
            if value is None:
                result.pop(name, None)
            else:
                result[name] = value
        return result

    return st.builds(
        apply, st.lists(change, max_size=3), st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=1)
    )


def assert_handled(response: httpx.Response) -> None:
    assert response.status_code < 500, (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text[:300]}"
    )


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSandbox]:
    with mock_sandbox(tmp_path_factory.mktemp("state")) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http(running: RunningSandbox) -> Iterator[httpx.Client]:
    # A browser's jar: the IdP's login-session cookies are Secure, even on http://localhost.
    with httpx.Client(base_url=running.base_url, timeout=60, cookies=BrowserCookieJar()) as client:
        yield client


@pytest.fixture(scope="module")
def client_id(http: httpx.Client) -> str:
    response = http.post("/register", json={"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"})
    assert response.status_code == 201
    return response.json()["client_id"]


def authorize_query(running: RunningSandbox, client_id: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "fuzz",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        "scope": "openid",
        "resource": running.mcp_url,
    }


DCR_VALID = {
    "redirect_uris": [REDIRECT_URI],
    "client_name": "fuzz",
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "none",
    "scope": "openid",
}
DCR_FIELDS = [
    *DCR_VALID,
    "client_uri",
    "logo_uri",
    "jwks",
    "jwks_uri",
    "software_statement",
    "contacts",
    "application_type",
]
DCR_BODY = mutated(DCR_VALID, DCR_FIELDS, JSON | st.lists(st.sampled_from([REDIRECT_URI, *HOSTILE]), max_size=3))


@pytest.mark.parametrize("path", ["/register", DCR])
@FUZZ
@given(body=DCR_BODY)
def test_registration_metadata(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    assert_handled(http.post(path, content=json.dumps(body), headers={"Content-Type": "application/json"}))


@pytest.mark.parametrize("path", ["/register", DCR, "/token", f"{OIDC}/token"])
@FUZZ
@given(raw=RAW)
def test_raw_bodies(http: httpx.Client, path: str, raw: tuple[bytes, str]) -> None:
    body, content_type = raw
    assert_handled(http.post(path, content=body, headers={"Content-Type": content_type} if content_type else {}))


TOKEN_FIELDS = [
    "grant_type",
    "code",
    "redirect_uri",
    "client_id",
    "client_secret",
    "code_verifier",
    "refresh_token",
    "scope",
    "resource",
    "username",
    "password",
]
# Header values must be visible ASCII, or httpx refuses to send them.
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60)
AUTHORIZATION = (
    st.none()
    | st.builds(lambda user, secret: "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode(), TEXT, TEXT)
    | HEADER_TEXT.map(lambda text: "Basic " + text)
    | HEADER_TEXT.map(lambda text: "Bearer " + text)
)


@FUZZ
@given(form=st.data(), authorization=AUTHORIZATION)
def test_proxy_token(http: httpx.Client, client_id: str, form: st.DataObject, authorization: str | None) -> None:
    valid = {
        "grant_type": "authorization_code",
        "code": "x" * 43,
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
    }
    fields = form.draw(mutated(valid, TOKEN_FIELDS))
    assert_handled(http.post("/token", data=fields, headers={"Authorization": authorization} if authorization else {}))


@FUZZ
@given(
    form=mutated(
        {
            "grant_type": "password",
            "client_id": "sandbox-cli",
            "username": "alice",
            "password": "alice",
            "scope": "openid",
        },
        TOKEN_FIELDS,
    ),
    authorization=AUTHORIZATION,
)
def test_idp_token(http: httpx.Client, form: dict[str, str], authorization: str | None) -> None:
    assert_handled(
        http.post(f"{OIDC}/token", data=form, headers={"Authorization": authorization} if authorization else {})
    )


AUTHORIZE_FIELDS = [
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
    "resource",
    "nonce",
    "prompt",
]


@FUZZ
@given(data=st.data())
def test_proxy_authorize(http: httpx.Client, running: RunningSandbox, client_id: str, data: st.DataObject) -> None:
    query = data.draw(mutated(authorize_query(running, client_id), AUTHORIZE_FIELDS))
    assert_handled(http.get(f"/authorize?{urlencode(query)}"))


@pytest.fixture(scope="module")
def consent(http: httpx.Client, running: RunningSandbox, client_id: str) -> dict[str, str]:
    """A live consent transaction: the page's hidden fields (txn_id, csrf_token), its cookie kept in ``http``."""
    redirect = http.get("/authorize", params=authorize_query(running, client_id))
    assert redirect.status_code in (302, 303, 307), redirect.text
    page = http.get(redirect.headers["location"])
    form = parse_page(page.text).form("consentForm") or parse_page(page.text).forms[0]
    return {key: value for key, value in form.fields.items() if key in ("txn_id", "csrf_token")}


@FUZZ
@given(data=st.data())
def test_proxy_consent(http: httpx.Client, consent: dict[str, str], data: st.DataObject) -> None:
    form = data.draw(mutated({**consent, "action": "approve"}, ["txn_id", "csrf_token", "action"]))
    if data.draw(st.booleans()):
        assert_handled(http.get("/consent", params={"txn_id": form.get("txn_id", "")}))
    else:
        assert_handled(http.post("/consent", data=form))


@pytest.fixture(scope="module")
def login_action(http: httpx.Client, running: RunningSandbox) -> str:
    """A live login form's action URL at the mock IdP (its session cookies kept in ``http``)."""
    page = http.get(
        f"{OIDC}/auth",
        params={
            "client_id": "sandbox-proxy",
            "redirect_uri": f"{running.base_url}/auth/callback",
            "response_type": "code",
            "scope": "openid",
            "state": "fuzz",
            "code_challenge": s256(VERIFIER),
            "code_challenge_method": "S256",
        },
    )
    assert page.status_code == 200, page.text
    form = parse_page(page.text).form("kc-form-login")
    assert form is not None and form.action
    return form.action


@FUZZ
@given(data=st.data())
def test_idp_login(http: httpx.Client, login_action: str, data: st.DataObject) -> None:
    form = data.draw(
        mutated({"username": "alice", "password": "wrong"}, ["username", "password", "credentialId", "rememberMe"])
    )
    action = login_action
    if data.draw(st.booleans()):  # the action's own query too: session_code, execution, tab_id
        base, _, query = login_action.partition("?")
        keep = dict(pair.split("=", 1) for pair in query.split("&") if "=" in pair)
        action = f"{base}?{urlencode(data.draw(mutated(keep, list(keep))))}"
    assert_handled(http.post(action, data=form))
