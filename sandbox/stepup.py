"""Step-up authorization: a tool that needs a scope the token lacks answers HTTP 403.

MCP 2026-07-28 (and SEP-2350): when a token is valid but lacks a scope an operation needs,
the server answers ``403`` with ``WWW-Authenticate: Bearer error="insufficient_scope",
scope="..."`` naming only the missing scopes; the client re-authorizes asking for those
plus everything it already had. FastMCP 4.2.3 reports a component's ``require_scopes``
shortfall as a JSON-RPC tool error inside a 200 (the MCP session has already answered by
then), so no client ever steps up. This ASGI middleware gives the challenge at the HTTP
level instead, before FastMCP runs the call: ``tests/sandbox/test_stepup.py`` fails once
FastMCP answers 403 itself, so this can go.

Which tools need which scopes: the sample server names its own (``SCOPED_TOOLS`` in
sandbox/tools.py, so ``admin_report`` stays listed for every token and can be tried from any
client), and for any server, a tool declared with FastMCP's ``auth=require_scopes(...)`` is
checked with FastMCP's own shortfall rule (an opaque check that fails discloses no scope).

A scope is what the client may ask for on the user's behalf; whether the user may do the
thing is the tool's own role check, after this.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import pydantic_core
from fastmcp import FastMCP
from fastmcp.server.auth import AccessToken, AuthContext, AuthProvider
from fastmcp.server.auth.oidc_proxy import OIDCProxy
from fastmcp.server.providers.local_provider import LocalProvider
from fastmcp.tools import Tool
from fastmcp.utilities.authorization import run_auth_checks_with_shortfall
from mcp.shared.auth import OAuthClientInformationFull
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.limits import MAX_MCP_BODY_BYTES, READ_BODY
from sandbox.verified_tokens import remember_bounded

# The sample server's optional scope (realms/sandbox.json: an optional client scope of the
# proxy's upstream client), which the first authorization does not ask for.
ADMIN_SCOPE = "mcp:admin"

# Tools whose lookup is remembered: more than any server registers at once (a stale entry is
# dropped when met; this bounds a server that keeps registering tools of new names).
REMEMBERED_TOOLS = 256

# Every body /mcp accepts is inspected (sandbox/limits.py refuses larger ones first): a
# tools/call's arguments or _meta can be any size, and a 64 KiB bound here let a padded
# call of a scoped tool past the gate without its 403 challenge.
MAX_INSPECTED_BODY = MAX_MCP_BODY_BYTES


if TYPE_CHECKING:
    # The mixin's super() is FastMCP's proxy; the checker sees it so, the runtime MRO makes it so.
    _Proxy = OIDCProxy
else:
    _Proxy = object


class StepUpClientScopes(_Proxy):
    """Proxy mixin: a DCR client may later ask for any scope the server offers.

    The MCP SDK registers with the scope of the first challenge (``openid``), and FastMCP
    4.2.3 keeps a registered scope as the client's ceiling (``validate_scope``), so the
    step-up authorization is refused with ``invalid_scope`` before the user sees it. A CIMD
    client without a ``scope`` already gets every valid scope; this gives a DCR client the
    same. What the user grants is still decided at consent and by the IdP.
    ``tests/sandbox/test_stepup.py`` fails once FastMCP widens it itself.
    """

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        client = await super().get_client(client_id)
        options = getattr(self, "client_registration_options", None)
        offered = options.valid_scopes if options is not None else None
        if client is not None and getattr(client, "cimd_document", None) is None and client.scope and offered:
            client.scope = " ".join(dict.fromkeys([*client.scope.split(), *offered]))
        return client


class StepUpGate:
    """In front of the MCP endpoint: ``tools/call`` of a scoped tool needs its scopes."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: AuthProvider,
        server: FastMCP,
        scoped_tools: Mapping[str, frozenset[str]],
        mcp_path: str,
        resource_metadata_url: str,
    ) -> None:
        self.app = app
        self.verifier = verifier  # FastMCP's auth provider: verify_token(str) -> AccessToken | None
        self.scoped_tools = scoped_tools
        self.mcp_path = mcp_path.rstrip("/")
        self.resource_metadata_url = resource_metadata_url
        self.tools = _RegisteredTools(server.local_provider)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != self.mcp_path:
            await self.app(scope, receive, send)
            return
        read = scope.get(READ_BODY)
        if isinstance(read, bytes):  # the body limits read it all (sandbox/limits.py)
            replay = receive
            tools = called_tools(read) if len(read) <= MAX_INSPECTED_BODY else set()
        else:
            messages, complete = await _read_body(receive)
            replay = _replaying(messages, complete, receive)
            tools = called_tools(_joined(messages)) if complete else set()
        bearer = _bearer(scope)
        # Only a call of a scoped tool needs the token here: FastMCP verifies it again right
        # after, so verifying it for every other call would double the cost of each one.
        if bearer and (scoped := await self.scoped(tools)):
            token = await self.verifier.verify_token(bearer)
            # No valid token: FastMCP's own 401 follows. A valid one missing scopes: 403 here.
            if token is not None and (missing := await self.missing_scopes(scoped, token)):
                await self._challenge(send, missing)
                return
        await self.app(scope, replay, send)

    async def scoped(self, tools: set[str]) -> list[tuple[frozenset[str], Tool | None]]:
        """What each called tool that needs a scope asks for: the sample server's scopes, FastMCP's check."""
        needs: list[tuple[frozenset[str], Tool | None]] = []
        for name in tools:
            tool = await self.tools.get(name)
            checked = tool if tool is not None and tool.auth is not None else None
            if name in self.scoped_tools or checked is not None:
                needs.append((self.scoped_tools.get(name, frozenset()), checked))
        return needs

    async def missing_scopes(
        self, scoped: list[tuple[frozenset[str], Tool | None]], token: AccessToken
    ) -> frozenset[str]:
        missing: set[str] = set()
        for scopes, tool in scoped:
            missing |= scopes - set(token.scopes)
            if tool is not None and tool.auth is not None:
                authorized, shortfall = await run_auth_checks_with_shortfall(
                    tool.auth, AuthContext(token=token, component=tool)
                )
                missing |= set() if authorized else set(shortfall)
        return frozenset(missing)

    async def _challenge(self, send: Send, missing: frozenset[str]) -> None:
        wanted = " ".join(sorted(missing))
        description = f"This tool needs the scope {wanted}; authorize again asking for it (and what you have)."
        challenge = (
            f'Bearer error="insufficient_scope", scope="{wanted}", '
            f'resource_metadata="{self.resource_metadata_url}", error_description="{description}"'
        )
        body = json.dumps({"error": "insufficient_scope", "error_description": description, "scope": wanted}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _RegisteredTools:
    """``provider.get_tool(name)``, given again while the tool it found is what the provider holds.

    The lookup runs for every ``tools/call``, and was ~40k instructions of each (a tenth of what
    authentication adds to a ``greet`` call, issue 17). A found tool is given again while the
    provider has no transforms (which rename and hide tools) and still stores that very object
    under its key. That is exact for an unversioned tool: FastMCP keys a component by its name
    and version, refuses a versioned tool beside an unversioned one of the same name, and every
    add, replace or removal writes the key (and a tool renamed in place no longer answers to its
    old name). A versioned tool, or none found, is looked up anew.
    ``tests/sandbox/test_stepup.py`` fails if FastMCP stops storing tools that way.
    """

    def __init__(self, provider: LocalProvider, capacity: int = REMEMBERED_TOOLS) -> None:
        self.provider = provider
        self.capacity = capacity
        self._found: dict[str, tuple[str, Tool]] = {}

    async def get(self, name: str) -> Tool | None:
        provider = self.provider
        found = self._found.get(name)
        if found is not None:
            key, known = found
            # The name too: FastMCP finds a tool by its name, which a tool's owner could change in place.
            if not provider._transforms and provider._components.get(key) is known and known.name == name:
                return known
            del self._found[name]
        tool = await provider.get_tool(name)
        if tool is not None and tool.version is None and not provider._transforms:
            key = tool.key
            if provider._components.get(key) is tool:  # only what the provider itself stores
                remember_bounded(self._found, name, (key, tool), self.capacity)
        return tool


async def _read_body(receive: Receive) -> tuple[list[Message], bool]:
    """The request's messages up to the inspection limit; ``complete`` if that is all of it."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, size <= MAX_INSPECTED_BODY
        if size > MAX_INSPECTED_BODY:
            return messages, False


def _replaying(messages: list[Message], complete: bool, receive: Receive) -> Receive:
    """A ``receive`` that hands the app what was read, then the rest of the stream."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


def _joined(messages: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")


def called_tools(body: bytes, parse: Callable[[bytes], object] | None = None) -> set[str]:
    """Names of the tools a JSON-RPC message (or batch) calls; nothing if it is not JSON.
    ``parse``: how the body is read (the gate's own reading by default)."""
    try:
        payload = (parse or _parsed)(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return set()
    calls = payload if isinstance(payload, list) else [payload]
    return {
        call["params"]["name"]
        for call in calls
        if isinstance(call, dict)
        and call.get("method") == "tools/call"
        and isinstance(call.get("params"), dict)
        and isinstance(call["params"].get("name"), str)
    }


def _parsed(body: bytes) -> object:
    """``body`` as ``json.loads`` reads it (the MCP SDK's parser of 2026-07-28 requests), read by
    pydantic-core's parser (the SDK's for older ones) where that reads it: both give the same
    value for every body both read, and it costs a third (~16k instructions for a greet call's
    350 bytes, ~43k; issue 17). Where it refuses (a BOM, UTF-16, a lone surrogate escape, deep
    nesting), ``json.loads`` decides, as before: a body it reads must not pass unchecked."""
    try:
        return pydantic_core.from_json(body)
    except ValueError:
        return json.loads(body)


def _bearer(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, credential = value.decode("latin-1").partition(" ")
            return credential.strip() if kind.lower() == "bearer" and credential.strip() else None
    return None
