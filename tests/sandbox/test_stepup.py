"""The step-up layer (sandbox/stepup.py): the 403 FastMCP does not give, and when it can go."""

from __future__ import annotations

import codecs
import json

import httpx
import pytest
from fastmcp import FastMCP
from fastmcp.server.auth import require_scopes
from fastmcp.server.auth.oauth_proxy.models import ProxyDCRClient
from fastmcp.server.auth.providers.jwt import StaticTokenVerifier
from fastmcp.server.transforms import ToolTransform
from fastmcp.tools import Tool
from fastmcp.tools.tool_transform import ToolTransformConfig
from hypothesis import given
from hypothesis import strategies as st
from mcp.shared.auth import InvalidScopeError
from pydantic import AnyUrl

from sandbox.limits import MAX_MCP_BODY_BYTES, BodyLimits
from sandbox.stepup import StepUpGate, _RegisteredTools, called_tools

TOKENS = {
    "basic": {"client_id": "c", "scopes": ["openid"]},
    "admin": {"client_id": "c", "scopes": ["openid", "mcp:admin"]},
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
METADATA = "http://localhost:9/.well-known/oauth-protected-resource/mcp"


def server() -> FastMCP:
    mcp = FastMCP("step-up test", auth=StaticTokenVerifier(tokens=TOKENS))

    @mcp.tool
    def admin_report() -> str:
        return "report"

    @mcp.tool(auth=require_scopes("mcp:write"))
    def write() -> str:
        return "written"

    return mcp


def call(name: str, *, batch: bool = False) -> bytes:
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": {}}}
    return json.dumps([message] if batch else message).encode()


class Downstream:
    """Stands in for the MCP app: records what reached it."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})


def gate(downstream: Downstream) -> StepUpGate:
    mcp = server()
    return StepUpGate(
        downstream,
        verifier=mcp.auth,
        server=mcp,
        scoped_tools={"admin_report": frozenset({"mcp:admin"})},
        mcp_path="/mcp",
        resource_metadata_url=METADATA,
    )


def behind_body_limits(downstream: Downstream) -> BodyLimits:
    """The gate as the sandbox mounts it: the body limits in front hand it the body they read."""
    return BodyLimits(gate(downstream), mcp_path="/mcp")


# Alone, the gate reads and replays the body itself; behind the limits it takes theirs.
FRONTS = pytest.mark.parametrize("front", [gate, behind_body_limits])


async def post(app, body: bytes, token: str | None = "basic") -> httpx.Response:
    headers = {"content-type": "application/json"} | ({"authorization": f"Bearer {token}"} if token else {})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost:9") as http:
        return await http.post("/mcp", content=body, headers=headers)


@FRONTS
async def test_a_token_without_the_tools_scope_gets_403_naming_only_that_scope(front):
    downstream = Downstream()
    answer = await post(front(downstream), call("admin_report"))
    assert answer.status_code == 403
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer error="insufficient_scope", scope="mcp:admin", ')
    assert f'resource_metadata="{METADATA}"' in challenge
    assert answer.json()["error"] == "insufficient_scope" and answer.json()["scope"] == "mcp:admin"
    assert downstream.bodies == []  # the call never ran


@FRONTS
async def test_a_tool_declared_with_fastmcp_s_require_scopes_is_gated_by_fastmcp_s_rule(front):
    answer = await post(front(Downstream()), call("write", batch=True))
    assert answer.status_code == 403
    assert 'scope="mcp:write"' in answer.headers["www-authenticate"]


@pytest.mark.parametrize(
    "body, token",
    [
        (call("admin_report"), "admin"),  # has the scope
        (call("greet"), "basic"),  # a tool that needs nothing
        (call("admin_report"), None),  # no token: FastMCP's 401 is next
        (call("admin_report"), "forged"),  # an invalid token: FastMCP's 401 too
        (b"{not json", "basic"),
        (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": ["x"]}}', "basic"),
    ],
)
@FRONTS
async def test_everything_else_reaches_the_server_unchanged(front, body, token):
    downstream = Downstream()
    answer = await post(front(downstream), body, token)
    assert answer.status_code == 200
    assert downstream.bodies == [body]


class CountingVerifier(StaticTokenVerifier):
    """The static tokens, counting how often the gate asks about one."""

    def __init__(self) -> None:
        super().__init__(tokens=TOKENS)
        self.verified = 0

    async def verify_token(self, token: str):
        self.verified += 1
        return await super().verify_token(token)


@pytest.mark.parametrize("tool, verified", [("greet", 0), ("admin_report", 1), ("write", 1)])
async def test_only_a_call_of_a_scoped_tool_has_its_token_verified_here(tool, verified):
    """FastMCP verifies every token right after the gate; a second check is for scoped tools only."""
    verifier = CountingVerifier()
    mcp = server()
    app = StepUpGate(
        Downstream(),
        verifier=verifier,
        server=mcp,
        scoped_tools={"admin_report": frozenset({"mcp:admin"})},
        mcp_path="/mcp",
        resource_metadata_url=METADATA,
    )
    await post(app, call(tool), "admin")
    assert verifier.verified == verified


@FRONTS
async def test_a_padded_call_of_a_scoped_tool_is_gated_all_the_same(front):
    """A call's arguments or _meta can be any size: a 64 KiB inspection bound let this 70 KB
    call of a scoped tool past the gate, without its 403 challenge."""
    downstream = Downstream()
    body = call("admin_report")[:-1] + b', "padding": "' + b"x" * 70_000 + b'"}'
    answer = await post(front(downstream), body)
    assert answer.status_code == 403 and "insufficient_scope" in answer.headers["www-authenticate"]
    assert downstream.bodies == []


async def test_alone_the_gate_passes_a_body_past_the_mcp_limit_on_whole():
    """Without the body limits in front (which refuse it with 413), what the gate will not read is left to the server."""
    downstream = Downstream()
    body = call("admin_report")[:-1] + b', "padding": "' + b"x" * MAX_MCP_BODY_BYTES + b'"}'
    answer = await post(gate(downstream), body)
    assert answer.status_code == 200
    assert downstream.bodies == [body]


async def test_upstream_fastmcp_still_answers_a_scope_shortfall_inside_a_200():
    """When this fails, FastMCP gives the 403 step-up challenge itself: StepUpGate can go."""
    mcp = server()
    app = mcp.http_app(path="/mcp", stateless_http=True, json_response=True)
    # Streamable HTTP wants both media types; the transport's own 406 would hide the point.
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost:9") as http,
    ):
        answer = await http.post(
            "/mcp",
            content=call("write"),
            headers={
                "authorization": "Bearer basic",
                "content-type": "application/json",
                "accept": "application/json, text/event-stream",
            },
        )
    assert answer.status_code == 200
    # The tool is hidden from a token without the scope, so the call is an "Unknown tool" tool error.
    result = answer.json()["result"]
    assert result["isError"] and "Unknown tool: 'write'" in result["content"][0]["text"]


def test_upstream_fastmcp_still_caps_a_dcr_client_at_its_registered_scope():
    """When this fails, FastMCP lets a client step up past its registered scope: StepUpClientScopes can go."""
    client = ProxyDCRClient(client_id="c", redirect_uris=[AnyUrl("http://localhost:1/cb")], scope="openid")
    with pytest.raises(InvalidScopeError):
        client.validate_scope("openid mcp:admin")


def names_by_json_loads(body: bytes) -> set[str]:
    """What the gate found before it read bodies with pydantic-core: the same rule, json.loads's reading."""
    return called_tools(body, json.loads)


CALL = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0"), "id": st.integers(), "method": st.sampled_from(["tools/call", "tools/list"])},
    optional={"params": st.fixed_dictionaries({}, optional={"name": st.text() | st.integers(), "arguments": JSON})},
)


@given(st.one_of(CALL, st.lists(CALL, max_size=3), JSON))
def test_the_gate_reads_the_tools_called_as_json_loads_reads_them(message) -> None:
    body = json.dumps(message).encode()
    assert called_tools(body) == names_by_json_loads(body)


@pytest.mark.parametrize(
    "body",
    [
        codecs.BOM_UTF8 + call("admin_report"),  # pydantic-core refuses a BOM, json.loads reads it
        call("admin_report").decode().encode("utf-16"),
        call("admin_report")[:-1] + b', "note": "\\ud800"}',  # a lone surrogate escape
        b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "greet", "name": "admin_report"}}',
        b"[" * 300 + b"]" * 300,
        b'{"method": "tools/call", "params": {"name": "admin_report"}',  # not JSON at all
    ],
)
def test_bodies_one_parser_refuses_are_read_as_json_loads_reads_them(body: bytes) -> None:
    assert called_tools(body) == names_by_json_loads(body)


def gate_over(mcp: FastMCP) -> StepUpGate:
    return StepUpGate(
        Downstream(), verifier=mcp.auth, server=mcp, scoped_tools={}, mcp_path="/mcp", resource_metadata_url=METADATA
    )


async def test_a_tool_replaced_or_removed_after_a_call_is_seen_at_the_next():
    """The gate's remembered lookups (``_RegisteredTools``) follow every change to the tools."""
    mcp = server()
    front = gate_over(mcp)
    for _ in range(2):  # the second call is answered from the remembered lookup
        assert (await post(front, call("admin_report"))).status_code == 200
    mcp.local_provider.remove_tool("admin_report")

    @mcp.tool(name="admin_report", auth=require_scopes("mcp:admin"))
    def stricter() -> str:
        return "report"

    answer = await post(front, call("admin_report"))
    assert answer.status_code == 403 and 'scope="mcp:admin"' in answer.headers["www-authenticate"]
    mcp.local_provider.remove_tool("admin_report")
    assert (await post(front, call("admin_report"))).status_code == 200  # gone: FastMCP's error follows
    mcp.add_tool(Tool.from_function(lambda: "again", name="admin_report", auth=require_scopes("mcp:ops")))
    assert 'scope="mcp:ops"' in (await post(front, call("admin_report"))).headers["www-authenticate"]


async def test_a_transform_added_after_a_call_is_applied_at_the_next():
    mcp = server()
    front = gate_over(mcp)
    assert (await post(front, call("write"))).status_code == 403  # remembered from here on
    mcp.local_provider.add_transform(ToolTransform({"write": ToolTransformConfig(name="write_renamed")}))
    assert (await post(front, call("write"))).status_code == 200  # no tool of that name now
    assert (await post(front, call("write_renamed"))).status_code == 403


async def test_a_versioned_tool_is_looked_up_at_every_call():
    mcp = FastMCP("versions", auth=StaticTokenVerifier(tokens=TOKENS))
    mcp.add_tool(Tool.from_function(lambda: "v1", name="report", version="1"))
    front = gate_over(mcp)
    assert (await post(front, call("report"))).status_code == 200
    mcp.add_tool(Tool.from_function(lambda: "v2", name="report", version="2", auth=require_scopes("mcp:v2")))
    assert 'scope="mcp:v2"' in (await post(front, call("report"))).headers["www-authenticate"]


def test_upstream_fastmcp_still_stores_a_tool_by_its_key_beside_its_transforms():
    """What ``_RegisteredTools`` relies on (FastMCP 4.2.3, providers/local_provider): if this
    fails, its check no longer sees every change; make it look the tool up every time."""
    mcp = server()
    provider = mcp.local_provider
    (tool,) = [tool for tool in provider._components.values() if isinstance(tool, Tool) and tool.name == "write"]
    assert provider._components[tool.key] is tool and tool.key == "tool:write@"
    assert provider._transforms == []
    with pytest.raises(ValueError, match="versioned"):  # no versioned tool beside an unversioned one
        mcp.add_tool(Tool.from_function(lambda: "v", name="write", version="2"))


async def test_a_tool_renamed_in_place_answers_only_to_its_new_name():
    mcp = server()
    front = gate_over(mcp)
    assert (await post(front, call("write"))).status_code == 403  # remembered from here on
    (tool,) = [tool for tool in mcp.local_provider._components.values() if getattr(tool, "name", "") == "write"]
    tool.name = "renamed"
    assert (await post(front, call("write"))).status_code == 200  # FastMCP finds no "write" now
    assert (await post(front, call("renamed"))).status_code == 403


async def test_the_remembered_lookups_are_bounded():
    mcp = server()
    for n in range(5):
        mcp.add_tool(Tool.from_function(lambda: "x", name=f"tool_{n}"))
    tools = _RegisteredTools(mcp.local_provider, capacity=3)
    for n in range(5):
        assert (await tools.get(f"tool_{n}")).name == f"tool_{n}"
    assert len(tools._found) == 3
