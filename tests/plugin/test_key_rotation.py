"""Signing in right after idp.rotate_keys(): one line naming FastMCP's JWKS refresh window."""

from __future__ import annotations

import inspect

import pytest
from fastmcp.server.auth.providers.jwt import JWTVerifier

from sandbox.testing.key_rotation import JWKS_REFRESH_INTERVAL

ROTATE_THEN_SIGN_IN = """
async def test_rotates_after_signing_in(mcp_client, idp):
    async with mcp_client("alice") as client:
        await client.call_tool("greet", {"name": "before"})
    idp.rotate_keys()


async def test_signs_in_next(mcp_client):
    async with mcp_client("bob") as client:
        await client.call_tool("greet", {"name": "after"})
"""


def test_fastmcp_still_refetches_the_jwks_at_most_once_per_30_s():
    # The message quotes this window; when FastMCP changes it, change JWKS_REFRESH_INTERVAL.
    assert inspect.signature(JWTVerifier.__init__).parameters["jwks_refresh_interval"].default == JWKS_REFRESH_INTERVAL


def test_a_sign_in_inside_the_window_fails_in_one_line_naming_it(pytester: pytest.Pytester):
    pytester.makepyfile(test_rotation=ROTATE_THEN_SIGN_IN)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *JWKSRefreshWindowError: sign-in as 'bob' failed * s after idp.rotate_keys(): FastMCP's proxy fetches"
            " the IdP's JWKS again at most once per 30 s (jwks_refresh_interval)*(the client saw MCPError: *)",
        ]
    )
    # Not the client's retry chain: none of the MCP SDK's frames, no exception groups.
    result.stdout.no_fnmatch_line("*jsonrpc_dispatcher.py*")
    result.stdout.no_fnmatch_line("*ExceptionGroup*")
