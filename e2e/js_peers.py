"""The pinned JavaScript peers in e2e/js (``make js-peers``), run under Node 22 from the test.

A peer that needs the browser step prints the authorization URL; the test walks it with
:class:`~sandbox.testing.headless.HeadlessBrowser` and hands back what the peer waits for.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox.testing.headless import HeadlessBrowser
from sandbox.testing.node import node22_bin, node22_env

JS_DIR = Path(__file__).resolve().parent / "js"
CONFORMANCE = JS_DIR / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
TIMEOUT = 120  # seconds a peer may take end to end
SUMMARY_LINE = re.compile(r"^[✓✗] (?P<scenario>[\w./-]+): (?P<passed>\d+) passed, (?P<failed>\d+) failed$")


class PeersMissing(RuntimeError):
    """e2e/js has no node_modules: `make js-peers` installs them."""


def _require(path: Path) -> Path:
    if not path.exists():
        raise PeersMissing(f"{path} is missing: run `make js-peers`")
    return path


async def _spawn(*argv: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        str(node22_bin() / "node"),
        *argv,
        cwd=JS_DIR,
        env=node22_env() | (env or {}),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def ts_sdk_client(
    mcp_url: str, redirect_uri: str, browser: HeadlessBrowser, *, metadata_url: str | None = None
) -> dict[str, Any]:
    """The TypeScript SDK signs in (CIMD when ``metadata_url``, else DCR) and calls greet."""
    env = {"MCP_URL": mcp_url, "REDIRECT_URI": redirect_uri, "CLIENT_METADATA_URL": metadata_url or ""}
    process = await _spawn(str(_require(JS_DIR / "ts_sdk_client.mjs")), env=env)
    try:
        return await asyncio.wait_for(_answer_ts_client(process, browser), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def _answer_ts_client(process: asyncio.subprocess.Process, browser: HeadlessBrowser) -> dict[str, Any]:
    assert process.stdout is not None and process.stdin is not None
    seen: list[str] = []
    while line := (await process.stdout.readline()).decode():
        seen.append(line)
        try:
            message = json.loads(line)
        except ValueError:
            continue  # the SDK's own logging
        if "authorize" in message:
            result = await browser.authorize(message["authorize"])
            process.stdin.write(result.code.encode() + b"\n")
            await process.stdin.drain()
        else:
            return message
    raise RuntimeError(f"the TypeScript client ended without a result: {''.join(seen)[-800:]}")


async def conformance_authorization(
    url: str, *, client_id: str, port: int, resource: str, browser: HeadlessBrowser
) -> tuple[dict[str, bool], str]:
    """Every authorization-server scenario against ``url``; ``{scenario: passed?}`` and the output.

    The authorization-code-grant scenario prints a URL for a person to open; the browser
    walks it and the redirect is delivered to the suite's callback server on ``port``.
    """
    argv = [
        str(_require(CONFORMANCE)),
        "authorization",
        "--url",
        url,
        "--client-id",
        client_id,
        "--port",
        str(port),
        "--resource",
        resource,
    ]
    process = await _spawn(*argv)
    try:
        output = await asyncio.wait_for(_answer_conformance(process, url, browser), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
    results = {
        m["scenario"]: int(m["failed"]) == 0 for line in output.splitlines() if (m := SUMMARY_LINE.match(line.strip()))
    }
    return results, output


async def _answer_conformance(process: asyncio.subprocess.Process, url: str, browser: HeadlessBrowser) -> str:
    assert process.stdout is not None
    output: list[str] = []
    authorize_prefix = url.rstrip("/") + "/authorize?"
    while line := (await process.stdout.readline()).decode():
        output.append(line)
        if line.startswith(authorize_prefix):
            authorization_url = line.strip()
            result = await browser.authorize(authorization_url)
            redirect_uri = dict(httpx.URL(authorization_url).params)["redirect_uri"]
            answer = {"code": result.code, "state": result.state or ""} | ({"iss": result.iss} if result.iss else {})
            async with httpx.AsyncClient() as http:
                await http.get(f"{redirect_uri}?{urlencode(answer)}")
    return "".join(output)
