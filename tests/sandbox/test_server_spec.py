"""`--server module:attr`: your own FastMCP server behind the proxy, or one line saying why not."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastmcp import Client, FastMCP
from key_value.aio.stores.memory import MemoryStore

from sandbox.serverspec import ServerSpecError, load_server
from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.server import clean_environment, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


@pytest.fixture
def examples_importable(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))


def test_instance_and_factory_load(examples_importable, tmp_path, monkeypatch):
    assert isinstance(load_server("notes_server.server:mcp"), FastMCP)
    (tmp_path / "factory_mod.py").write_text("from fastmcp import FastMCP\ndef make():\n    return FastMCP('made')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_server("factory_mod:make").name == "made"


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("notes_server.server", "must look like 'module:attr'"),
        (":mcp", "must look like 'module:attr'"),
        ("no_such_module_here:mcp", "no module named 'no_such_module_here'"),
        ("notes_server.server:nope", "has no attribute 'nope'"),
        ("notes_server.server:NOTES", "NOTES is a dict, not a FastMCP server"),
        ("json:dumps", "calling dumps() failed: TypeError"),
        ("json:JSONDecoder", "JSONDecoder is a type, not a FastMCP server"),
    ],
)
def test_bad_specs_name_the_cause(examples_importable, spec, needle):
    with pytest.raises(ServerSpecError) as error:
        load_server(spec)
    assert needle in str(error.value) and "\n" not in str(error.value)


def test_a_module_that_fails_to_import_is_named(tmp_path, monkeypatch):
    (tmp_path / "broken_mod.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ServerSpecError, match="importing broken_mod failed: No module named 'no_such_dependency_xyz'"):
        load_server("broken_mod:mcp")


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sandbox", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean_environment(), "PYTHONPATH": str(EXAMPLES), **(env or {})},
    )


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--server", "notes_server.server:nope"], {}, "has no attribute 'nope'"),
        (["--server", "missing_pkg.server:mcp"], {}, "no module named 'missing_pkg'"),
        ([], {"SANDBOX_SERVER": "notes_server.server:NOTES"}, "not a FastMCP server"),
    ],
)
def test_cli_refuses_a_bad_server_in_one_line(tmp_path, args, env, needle):
    result = run_cli(*args, "--port", str(free_port()), "--state-dir", str(tmp_path), env=env)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("sandbox: server spec") and needle in lines[0]


async def test_cli_serves_your_server_behind_the_proxy(tmp_path):
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sandbox",
        "--server",
        "notes_server.server:mcp",
        "--port",
        str(port),
        "--state-dir",
        str(tmp_path),
        "--store",
        "memory",
        "--log-level",
        "warning",
        cwd=ROOT,
        env={**clean_environment(), "PYTHONPATH": str(EXAMPLES)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while True:
                if process.returncode is not None:
                    pytest.fail((await process.stderr.read()).decode())
                try:
                    if (await http.get(f"http://localhost:{port}/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline
                await asyncio.sleep(0.1)
        auth = HeadlessOAuth(HeadlessBrowser("bob", "bob"), token_storage=MemoryStore())
        async with Client(f"http://localhost:{port}/mcp", auth=auth) as client:
            assert {tool.name for tool in await client.list_tools()} == {"add_note", "delete_note"}
            note = (await client.call_tool("add_note", {"text": "from the CLI"})).data
        assert note["author"] == "bob"
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 30)
