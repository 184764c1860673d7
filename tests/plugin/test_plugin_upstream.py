"""The plugin with --sandbox-upstream-command / --sandbox-upstream: a Node MCP server under test
from a small Python test file, as a TypeScript repository would use it."""

from __future__ import annotations

import pytest

from sandbox.testing.upstreams import everything_command

TIMEOUT = 300

NODE_SERVER_TEST = """
import pytest

@pytest.mark.asyncio
async def test_echo_as_bob(mcp_client):
    async with mcp_client("bob") as client:
        tools = {tool.name for tool in await client.list_tools()}
        result = await client.call_tool("echo", {"message": "from a TypeScript server"})
    assert "get-tiny-image" in tools
    assert result.content[0].text == "Echo: from a TypeScript server"
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=TIMEOUT)


def test_a_node_stdio_server_under_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_node=NODE_SERVER_TEST)
    run(pytester, "--sandbox-upstream-command", everything_command()).assert_outcomes(passed=1)


def test_an_upstream_that_does_not_answer_fails_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_node=NODE_SERVER_TEST)
    result = run(pytester, "--sandbox-upstream", "http://localhost:9/mcp")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*sandbox upstream: upstream http://localhost:9/mcp did not answer initialize: unreachable*"]
    )
    # Once: the failure was raised inside the except, and pytest printed the cause before it too.
    assert "During handling of the above exception" not in result.stdout.str()


def test_one_server_only(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_nothing(): pass\n")
    result = run(pytester, "--sandbox-upstream", "http://localhost:9/mcp", "--sandbox-server", "x:y")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: mcp-oauth-sandbox: give only one server to test: --sandbox-server and --sandbox-upstream"]
    )
