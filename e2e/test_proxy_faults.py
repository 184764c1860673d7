"""Each fault kind of the mock IdP, fired under a real MCP client behind FastMCP's OAuth proxy.

What each test pins down is what FastMCP 4.1.0 actually does: where the failure shows
(the proxy's callback page, the client's redirect URI, a 401 at /mcp), what the MCP
client raises, that nothing waits longer than ``FLOW_TIMEOUT``, and that the next flow
succeeds once the fault is gone. Faults are mock-only, so the module skips on Keycloak.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fastmcp import Client
from key_value.aio.stores.memory import MemoryStore
from mcp.shared.exceptions import MCPError
from test_headless_clients import cause_of

from sandbox.idp_control import IdpControl
from sandbox.testing.headless import AuthorizationDenied, ErrorPage, HeadlessBrowser, HeadlessOAuth, LoginFailed
from sandbox.testing.options import sandbox_backend
from sandbox.testing.server import IsolatedSettings, RunningSandbox, free_port, running_sandbox
from sandbox.testing.stack import SandboxStack

FLOW_TIMEOUT = 30  # seconds; every flow here must end (succeed or fail) well within it
GREETING = "Hello, faults! You are signed in as alice (roles: mcp-admin, mcp-user)."
# FastMCP's JWTVerifier refreshes the JWKS at most this often (jwks_refresh_interval).
JWKS_REFRESH_INTERVAL = 30


@pytest.fixture(autouse=True, scope="module")
def mock_only(request: pytest.FixtureRequest) -> None:
    if sandbox_backend(request.config) != "mock":
        pytest.skip("faults are mock-only (x-mock controls); a real Keycloak has none")


@pytest.fixture
def idp(sandbox: SandboxStack) -> Iterator[IdpControl]:
    control = IdpControl(f"{sandbox.base_url}/idp/", "sandbox", "mock")
    control.clear_faults()
    yield control
    control.reset()


class CountingBrowser(HeadlessBrowser):
    """Keeps the pages of every walk: a client that retries authorization walks again."""

    def __init__(self) -> None:
        super().__init__("alice", "alice")
        self.walks: list[list[str]] = []

    async def authorize(self, authorization_url: str):
        try:
            return await super().authorize(authorization_url)
        finally:
            self.walks.append(list(self.pages))


async def sign_in(sandbox: RunningSandbox | SandboxStack) -> tuple[str, CountingBrowser]:
    browser = CountingBrowser()
    auth = HeadlessOAuth(browser, token_storage=MemoryStore())
    with anyio.fail_after(FLOW_TIMEOUT):
        async with Client(sandbox.mcp_url, auth=auth) as client:
            return (await client.call_tool("greet", {"name": "faults"})).data, browser


async def failed_sign_in(sandbox: RunningSandbox | SandboxStack) -> tuple[BaseException, CountingBrowser]:
    browser = CountingBrowser()
    auth = HeadlessOAuth(browser, token_storage=MemoryStore())
    with anyio.fail_after(FLOW_TIMEOUT):
        try:
            async with Client(sandbox.mcp_url, auth=auth) as client:
                await client.call_tool("greet", {"name": "faults"})
        except (RuntimeError, MCPError) as error:
            return error, browser
    raise AssertionError(f"the flow succeeded despite the fault; walks: {browser.walks}")


async def assert_next_flow_succeeds(sandbox: SandboxStack, idp: IdpControl) -> None:
    idp.clear_faults()
    greeting, browser = await sign_in(sandbox)
    assert greeting == GREETING and len(browser.walks) == 1


# -- token endpoint: the proxy's code exchange fails at its callback -------------------------


@pytest.mark.parametrize(
    ("kind", "spec", "reason"),
    [
        (
            "status",
            {"status": 503},
            "Server error '503 Service Unavailable' for url '{realm}/protocol/openid-connect/token'",
        ),
        ("oauth_error", {"error": "invalid_grant", "error_description": "code reused"}, "invalid_grant: code reused"),
        ("malformed_body", {}, "Unterminated string starting at: line 1 column 18 (char 17)"),
    ],
)
async def test_token_endpoint_failure_ends_on_the_proxys_error_page(sandbox, idp, kind, spec, reason):
    """FastMCP does not forward a failed upstream code exchange to the client's redirect URI:
    its callback answers 500 with an "OAuth Error" page naming the upstream failure. A
    browser-based client would wait for a callback that never comes; the headless walker
    (like a person) reads the page, and the client fails at once with that reason."""
    idp.fault("token", kind, **spec)
    error, browser = await failed_sign_in(sandbox)
    page = cause_of(error, ErrorPage)
    assert page is not None, error
    realm = f"{sandbox.base_url}/idp/realms/sandbox"
    assert (page.status, page.url.split("?")[0]) == (500, f"{sandbox.base_url}/auth/callback")
    # (httpx adds "For more information check: <MDN page>" after a status error.)
    assert page.message.startswith("Token exchange with identity provider failed: " + reason.format(realm=realm))
    assert str(error).startswith("Client failed to connect: HTTP 500 at ")
    assert browser.walks == [["consent", "login"]]  # no retry: the client gave up at once
    assert idp.faults() == []  # one-shot: fired and gone
    await assert_next_flow_succeeds(sandbox, idp)


async def test_token_endpoint_delay_only_slows_the_flow(sandbox, idp):
    """The proxy waits for the IdP (FastMCP's upstream timeout is 30 s, the mock's longest delay)."""
    idp.fault("token", "delay", delay_seconds=2)
    started = time.monotonic()
    greeting, browser = await sign_in(sandbox)
    assert greeting == GREETING and browser.walks == [["consent", "login"]]
    assert time.monotonic() - started >= 2
    assert idp.faults() == []


# -- the next token carries a wrong iss/aud: the proxy accepts it, then /mcp refuses it --------


@pytest.mark.parametrize("kind", ["wrong_issuer", "wrong_audience"])
async def test_wrong_claim_in_the_next_token_costs_one_more_authorization(sandbox, idp, kind):
    """The proxy does not check upstream tokens at its callback; the first /mcp call does
    (JWTVerifier: issuer, audience) and answers 401 invalid_token. The client authorizes
    again: the IdP session skips the login form, the new token is right, the call works."""
    idp.fault("token", kind)
    greeting, browser = await sign_in(sandbox)
    assert greeting == GREETING
    assert browser.walks == [["consent", "login"], ["consent"]]


@pytest.mark.parametrize("kind", ["wrong_issuer", "wrong_audience"])
async def test_persistently_wrong_tokens_fail_after_one_retry(sandbox, idp, kind):
    """With every token wrong the client re-authorizes once, gets 401 again and gives up with
    a JSON-RPC error (the MCP SDK's wording for a non-2xx answer); it does not loop."""
    idp.fault("token", kind, times=None)
    error, browser = await failed_sign_in(sandbox)
    assert isinstance(error, MCPError) and str(error) == "Server returned an error response"
    assert browser.walks == [["consent", "login"], ["consent"]]
    assert idp.faults()[0]["fired"] == 2
    await assert_next_flow_succeeds(sandbox, idp)


# -- authorization endpoint and login form -----------------------------------------------------


@pytest.mark.parametrize("error_code", ["access_denied", "temporarily_unavailable"])
async def test_authorize_error_is_forwarded_to_the_client(sandbox, idp, error_code):
    """The IdP redirects to the proxy's callback with ``error=``; FastMCP forwards it to the
    client's redirect URI (RFC 6749 §4.1.2.1) and the client fails with that OAuth error."""
    idp.fault("authorize", "oauth_error", error=error_code, error_description="injected at authorize")
    error, browser = await failed_sign_in(sandbox)
    denied = cause_of(error, AuthorizationDenied)
    assert denied is not None, error
    assert (denied.error, denied.description) == (error_code, "injected at authorize")
    assert str(error) == f"Client failed to connect: {error_code}: injected at authorize"
    assert browser.walks == [["consent"]]  # the login form was never shown
    await assert_next_flow_succeeds(sandbox, idp)


async def test_login_denied_shows_the_form_again_and_nothing_is_issued(sandbox, idp):
    idp.fault("login", "login_denied")
    error, browser = await failed_sign_in(sandbox)
    refused = cause_of(error, LoginFailed)
    assert refused is not None and str(refused).endswith(": Login denied by sandbox fault.")
    assert browser.walks == [["consent", "login"]]
    await assert_next_flow_succeeds(sandbox, idp)


# -- JWKS: only matters when the proxy fetches it, i.e. first use or an unknown key id ---------


@pytest.fixture
def fresh_sandbox(tmp_path: Path) -> Iterator[RunningSandbox]:
    """A sandbox whose proxy has not fetched the JWKS yet (the shared one cached it long ago)."""
    settings = IsolatedSettings(port=free_port(), state_dir=tmp_path, store="memory", log_level="warning")
    with running_sandbox(settings) as running:
        yield running


async def test_certs_failure_locks_the_proxy_out_until_its_jwks_refresh_interval(fresh_sandbox):
    """The proxy's first JWKS fetch gets a 500: the upstream token cannot be verified, /mcp
    answers 401, the client re-authorizes once, and FastMCP will not fetch the JWKS again
    for 30 s, so that fails too and the client gives up. After the interval the next flow
    fetches the keys and succeeds, with no restart."""
    idp = IdpControl(f"{fresh_sandbox.base_url}/idp/", "sandbox", "mock")
    idp.fault("certs", "status", status=500)
    error, browser = await failed_sign_in(fresh_sandbox)
    failed_at = time.monotonic()
    assert isinstance(error, MCPError) and str(error) == "Server returned an error response"
    assert browser.walks == [["consent", "login"], ["consent"]]
    assert idp.faults() == []  # fired once: the second 401 came from FastMCP's refresh throttle

    error, _ = await failed_sign_in(fresh_sandbox)  # still inside the interval, no fault armed
    assert isinstance(error, MCPError)

    await anyio.sleep(max(0.0, JWKS_REFRESH_INTERVAL + 0.5 - (time.monotonic() - failed_at)))
    greeting, browser = await sign_in(fresh_sandbox)
    assert greeting == GREETING and len(browser.walks) == 1
