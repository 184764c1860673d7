"""The pytest plugin as a user meets it: example test files run by pytest in a subprocess.

Each run is a fresh pytest process that finds the plugin through the distribution's
``pytest11`` entry point, as a user's project would, so the outcomes counted here are
the ones a user would see.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TIMEOUT = 300  # seconds per subprocess run; a Keycloak boot is most of it

# Not collected by the normal run: it fails on purpose, to show outcomes are really read.
FAILING_ON_PURPOSE = """
import pytest

pytestmark = pytest.mark.asyncio


async def test_bob_deleting_a_note_fails_on_purpose(mcp_client):
    async with mcp_client("bob") as client:
        note = (await client.call_tool("add_note", {"text": "x"})).data
        await client.call_tool("delete_note", {"note_id": note["id"]})  # ToolError: bob is no admin


async def test_an_unknown_user_is_a_clear_error(mcp_client):
    mcp_client("zed")


async def test_alice_lists_the_servers_tools(mcp_client, sandbox):
    async with mcp_client() as client:
        assert {tool.name for tool in await client.list_tools()} == {"add_note", "delete_note"}
    assert sandbox.backend in ("mock", "keycloak") and sandbox.mcp_url == sandbox.base_url + "/mcp"
"""

LIST_TOOLS = """
import pytest


@pytest.mark.asyncio
async def test_the_servers_tools(mcp_client):
    async with mcp_client() as client:
        assert {tool.name for tool in await client.list_tools()} == {"add_note", "delete_note"}
"""


def copy_examples(pytester: pytest.Pytester, *, conftest: bool = True) -> None:
    shutil.copytree(
        EXAMPLES / "notes_server", pytester.path / "notes_server", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(EXAMPLES / "test_notes_server.py", pytester.path)
    if conftest:
        shutil.copy(EXAMPLES / "conftest.py", pytester.path)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs", *args, timeout=TIMEOUT)


def test_the_example_suite_passes_on_the_mock(pytester: pytest.Pytester):
    copy_examples(pytester)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["mcp-oauth-sandbox: backend mock", "*test_claims_set_at_run_time_reach_the_server PASSED*"]
    )


def test_failures_are_reported_as_failures(pytester: pytest.Pytester):
    copy_examples(pytester, conftest=False)
    pytester.makepyfile(test_on_purpose=FAILING_ON_PURPOSE)
    result = run(pytester, "--sandbox-server", "notes_server.server:mcp", "test_on_purpose.py")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*ToolError: bob may not delete notes: the mcp-admin role is required*",
            "*UnknownSandboxUser: no user 'zed' in realm 'sandbox'*(known: alice, bob)*idp.create_user*",
        ]
    )


def test_server_from_the_environment_and_ini(pytester: pytest.Pytester, monkeypatch):
    copy_examples(pytester, conftest=False)
    pytester.makepyfile(test_tools=LIST_TOOLS)
    monkeypatch.setenv("SANDBOX_SERVER", "notes_server.server:mcp")
    run(pytester, "test_tools.py").assert_outcomes(passed=1)
    monkeypatch.delenv("SANDBOX_SERVER")
    pytester.makeini("[pytest]\nsandbox_server = notes_server.server:mcp\n")
    run(pytester, "test_tools.py").assert_outcomes(passed=1)


def test_without_a_server_the_sample_tools_are_served(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_sample="""
import pytest

@pytest.mark.asyncio
async def test_greet(mcp_client):
    async with mcp_client("bob") as client:
        result = await client.call_tool("greet", {"name": "plugin"})
    assert result.data == "Hello, plugin! You are signed in as bob (roles: mcp-user)."
"""
    )
    run(pytester).assert_outcomes(passed=1)


def test_mcp_client_registers_by_metadata_document_or_by_dcr(pytester: pytest.Pytester):
    pytester.makepyfile(
        test_registration="""
import pytest

@pytest.mark.asyncio
@pytest.mark.parametrize("registration, scheme", [("cimd", "https://127.0.0.1:"), ("dcr", "")])
async def test_registration(mcp_client, registration, scheme):
    async with mcp_client("bob", registration=registration) as client:
        result = await client.call_tool("greet", {"name": "plugin"})
        client_id = client.transport.auth.context.client_info.client_id
    assert "signed in as bob" in result.data
    assert client_id.startswith(scheme) if scheme else not client_id.startswith("https://")

@pytest.mark.asyncio
async def test_scopes_asked_up_front_and_by_step_up(mcp_client):
    async with mcp_client("alice", scopes=["mcp:admin"]) as client:
        assert "mcp:admin" in (await client.call_tool("admin_report", {})).data
    async with mcp_client("alice") as client:  # no scope up front: the client steps up by itself
        assert "mcp:admin" in (await client.call_tool("admin_report", {})).data

def test_an_unknown_registration_is_a_clear_error(mcp_client):
    with pytest.raises(ValueError, match="registration must be 'dcr' or 'cimd'"):
        mcp_client("bob", registration="manual")
"""
    )
    run(pytester).assert_outcomes(passed=4)


def test_a_bad_server_spec_stops_the_run_in_one_line(pytester: pytest.Pytester):
    pytester.makepyfile(test_nothing="def test_nothing(): pass\n")
    result = run(pytester, "--sandbox-server", "no_such_pkg.server:mcp")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: --sandbox-server: server spec 'no_such_pkg.server:mcp': no module named 'no_such_pkg'"]
    )


def test_a_bad_backend_is_refused(pytester: pytest.Pytester):
    pytester.makepyfile(test_nothing="def test_nothing(): pass\n")
    result = run(pytester, "--sandbox-backend", "auth0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*argument --sandbox-backend: invalid choice: 'auth0'*"])


@pytest.mark.keycloak
def test_the_example_suite_on_keycloak(pytester: pytest.Pytester, request: pytest.FixtureRequest, monkeypatch):
    """The same example file against a real Keycloak: the claims test is mock-only and skips.

    The run attaches to this session's shared Keycloak (SANDBOX_KEYCLOAK_URL, on a port its realm
    lists), as a user's CI can attach to one it started, instead of booting another."""
    from sandbox.backends.keycloak import keycloak_unavailable_reason
    from sandbox.testing.keycloak_session import session_keycloak

    if reason := keycloak_unavailable_reason():
        pytest.skip(f"Keycloak backend unavailable: {reason}")
    copy_examples(pytester)
    shared = session_keycloak(request.config)
    args = ["--sandbox-backend", "keycloak"]
    if (port := shared.claim_port()) is not None:
        monkeypatch.setenv("SANDBOX_KEYCLOAK_URL", shared.start()[1].base_url)
        args += ["--sandbox-port", str(port)]
    result = run(pytester, *args)
    result.assert_outcomes(passed=3, skipped=1)
    result.stdout.fnmatch_lines(["*mock-only: uses the mock IdP's x-mock controls*"])


def test_browser_login_without_playwright_says_what_to_install(pytester: pytest.Pytester):
    pytester.makeconftest("import sys\nsys.modules['playwright'] = None  # as if it were not installed\n")
    pytester.makepyfile(test_browser="async def test_login(browser_login):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=TIMEOUT)
    result.assert_outcomes(errors=1)
    assert "browser_login needs Playwright: pip install 'mcp-oauth-sandbox[test]'" in result.stdout.lines
    result.stdout.no_fnmatch_line("*Traceback*")


def readme_plugin_snippet() -> str:
    """The README's plugin example, as a user would copy it."""
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    (snippet,) = [block for block in blocks if "async def test_bob_may_not(mcp_client)" in block]
    return snippet


def test_the_readme_snippet_runs_in_a_new_project_without_asyncio_configuration(pytester: pytest.Pytester):
    shutil.copytree(
        EXAMPLES / "notes_server", pytester.path / "notes_server", ignore=shutil.ignore_patterns("__pycache__")
    )
    pytester.makepyfile(test_readme=readme_plugin_snippet())
    assert (
        not list(pytester.path.glob("*.ini")) + list(pytester.path.glob("*.toml")) + list(pytester.path.glob("*.cfg"))
    )
    result = run(
        pytester, "-W", "error::pytest.PytestUnraisableExceptionWarning", "--sandbox-server", "notes_server.server:mcp"
    )
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*not natively supported*")


SETTINGS_SEEN = """
def test_settings(sandbox):
    print("SEEN", sandbox.base_url, sorted(sandbox.users))
"""


def test_realm_port_and_sandbox_variables_reach_the_stack(pytester: pytest.Pytester, monkeypatch):
    from sandbox.settings import DEFAULT_REALM_FILE
    from sandbox.testing.server import free_port

    realm = json.loads(DEFAULT_REALM_FILE.read_text())
    dave = json.loads(json.dumps(realm["users"][-1]).replace(realm["users"][-1]["username"], "dave"))
    realm["users"].append(dave)
    (pytester.path / "my-realm.json").write_text(json.dumps(realm))
    pytester.makepyfile(test_seen=SETTINGS_SEEN)
    port = free_port()
    monkeypatch.setenv("SANDBOX_HOST", "127.0.0.1")
    monkeypatch.setenv("SANDBOX_PROT", "1")  # a misspelling: named, not silently dropped
    result = run(pytester, "-s", "--sandbox-realm", "my-realm.json", "--sandbox-port", str(port))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [f"*SEEN http://127.0.0.1:{port} ?'alice', 'bob', 'dave'?", "*SANDBOX_PROT is not a setting*SANDBOX_PORT*"]
    )


def test_a_bad_realm_or_setting_stops_the_run_in_one_line(pytester: pytest.Pytester, monkeypatch):
    pytester.makepyfile(test_nothing="def test_nothing(): pass\n")
    result = run(pytester, "--sandbox-realm", "missing.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: mcp-oauth-sandbox: missing.json: cannot read realm file*"])
    monkeypatch.setenv("SANDBOX_STORE", "disk")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: mcp-oauth-sandbox: invalid setting store (SANDBOX_STORE*"])


def test_a_sandbox_port_already_taken_stops_the_run_in_one_line(pytester: pytest.Pytester):
    """It was a uvicorn bind traceback in a background thread, then a RuntimeError at the first test's setup."""
    import socket

    pytester.makepyfile(test_nothing="def test_nothing(sandbox): pass\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run(pytester, "--sandbox-port", str(port))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: mcp-oauth-sandbox: cannot listen on 127.0.0.1:{port}: *--sandbox-port)"])
    assert "Traceback" not in result.stderr.str()
