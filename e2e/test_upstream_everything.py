"""Upstream mode with a real non-Python server: npm's reference "everything" server, over
Streamable HTTP and over stdio, behind the proxy, used by a signed-in FastMCP client."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import mcp_types
import pytest
from fastmcp import Client
from fastmcp.client.elicitation import ElicitResult
from fastmcp.exceptions import ToolError
from key_value.aio.stores.memory import MemoryStore
from mcp.shared.exceptions import MCPError

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.server import RunningSandbox, running_sandbox
from sandbox.testing.upstreams import everything_command


@pytest.fixture(scope="module", params=["http", "stdio"])
def upstream_sandbox(request, session_sandbox_settings, tmp_path_factory) -> Iterator[RunningSandbox]:
    state = tmp_path_factory.mktemp("state")
    if request.param == "http":
        target = {"upstream": request.getfixturevalue("node_upstream").url}
    else:
        target = {"upstream_command": everything_command()}
    settings = session_sandbox_settings(f"upstream-{request.param}", state, **target)
    with running_sandbox(settings) as running:
        yield running


def signed_in(sandbox: RunningSandbox, **kwargs: Any) -> Client:
    auth = HeadlessOAuth(HeadlessBrowser("alice", "alice"), token_storage=MemoryStore())
    # The handshake era, as MCP clients speak it today: server-initiated requests exist there.
    kwargs.setdefault("mode", "legacy")
    return Client(sandbox.mcp_url, auth=auth, **kwargs)


async def test_tools_text_image_and_embedded_resource(upstream_sandbox: RunningSandbox) -> None:
    async with signed_in(upstream_sandbox) as client:
        names = {tool.name for tool in await client.list_tools()}
        assert {
            "echo",
            "get-tiny-image",
            "get-resource-reference",
            "trigger-sampling-request",
            "trigger-elicitation-request",
        } <= names
        echo = await client.call_tool("echo", {"message": "through the proxy"})
        assert echo.content[0].text == "Echo: through the proxy"
        image = await client.call_tool("get-tiny-image", {})
        images = [part for part in image.content if isinstance(part, mcp_types.ImageContent)]
        assert images and images[0].mime_type == "image/png" and len(images[0].data) > 100
        reference = await client.call_tool("get-resource-reference", {"resourceType": "Text", "resourceId": 1})
        embedded = [part for part in reference.content if isinstance(part, mcp_types.EmbeddedResource)]
        assert embedded and str(embedded[0].resource.uri).startswith("demo://resource/")


async def test_resources_text_binary_and_templates(upstream_sandbox: RunningSandbox) -> None:
    async with signed_in(upstream_sandbox) as client:
        templates = {template.uri_template for template in await client.list_resource_templates()}
        assert "demo://resource/dynamic/text/{resourceId}" in templates
        text = await client.read_resource("demo://resource/dynamic/text/3")
        assert isinstance(text[0], mcp_types.TextResourceContents) and text[0].text
        blob = await client.read_resource("demo://resource/dynamic/blob/3")
        assert isinstance(blob[0], mcp_types.BlobResourceContents) and blob[0].blob
        assert await client.list_resources()


async def test_prompts_and_completion(upstream_sandbox: RunningSandbox) -> None:
    async with signed_in(upstream_sandbox) as client:
        prompts = {prompt.name for prompt in await client.list_prompts()}
        assert {"simple-prompt", "args-prompt", "completable-prompt"} <= prompts
        rendered = await client.get_prompt("args-prompt", {"city": "Lisbon", "state": "PT"})
        assert "Lisbon" in rendered.messages[0].content.text
        completion = await client.complete(
            mcp_types.PromptReference(type="ref/prompt", name="completable-prompt"),
            {"name": "department", "value": "S"},
        )
        assert set(completion.values) == {"Sales", "Support"}
        by_context = await client.complete(
            mcp_types.PromptReference(type="ref/prompt", name="completable-prompt"),
            {"name": "name", "value": ""},
            context_arguments={"department": "Engineering"},
        )
        assert by_context.values == ["Alice", "Bob", "Charlie"]


async def test_sampling_reaches_the_client(upstream_sandbox: RunningSandbox) -> None:
    asked: list[str] = []

    async def sample(messages: list[mcp_types.SamplingMessage], params: Any, context: Any) -> str:
        asked.append(messages[0].content.text)
        return "a sampled answer"

    async with signed_in(upstream_sandbox, sampling_handler=sample) as client:
        result = await client.call_tool("trigger-sampling-request", {"prompt": "what is OAuth?"})
    assert asked and "what is OAuth?" in asked[0]
    assert "a sampled answer" in result.content[0].text


async def test_elicitation_reaches_the_client(upstream_sandbox: RunningSandbox) -> None:
    asked: list[str] = []

    async def elicit(message: str, response_type: Any, params: Any, context: Any) -> ElicitResult:
        asked.append(message)
        return ElicitResult(action="decline")

    async with signed_in(upstream_sandbox, elicitation_handler=elicit) as client:
        result = await client.call_tool("trigger-elicitation-request", {})
    assert asked
    assert (
        "decline" in " ".join(part.text for part in result.content if isinstance(part, mcp_types.TextContent)).lower()
    )


async def test_long_running_call_streams_progress(upstream_sandbox: RunningSandbox) -> None:
    progress: list[tuple[float, float | None]] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total))

    async with signed_in(upstream_sandbox, progress_handler=on_progress) as client:
        result = await client.call_tool("trigger-long-running-operation", {"duration": 2, "steps": 4})
    assert "completed" in result.content[0].text.lower()
    assert [value for value, _ in progress] == [1, 2, 3, 4]  # each step arrived, none buffered away
    assert all(total == 4 for _, total in progress)


async def test_a_modern_client_is_served_too(upstream_sandbox: RunningSandbox) -> None:
    async with signed_in(upstream_sandbox, mode="auto") as client:
        assert (await client.call_tool("get-sum", {"a": 2, "b": 3})).content[0].text.endswith("5.")


async def test_unknown_tool_is_the_upstreams_error(upstream_sandbox: RunningSandbox) -> None:
    async with signed_in(upstream_sandbox) as client:
        with pytest.raises((ToolError, MCPError), match="no-such-tool"):
            await client.call_tool("no-such-tool", {})


async def test_completion_errors_are_the_upstreams(upstream_sandbox: RunningSandbox) -> None:
    async with signed_in(upstream_sandbox) as client:
        with pytest.raises(MCPError, match="no-such-prompt"):
            await client.complete(
                mcp_types.PromptReference(type="ref/prompt", name="no-such-prompt"), {"name": "x", "value": ""}
            )


async def test_subscriptions_pass_through(upstream_sandbox: RunningSandbox, request: pytest.FixtureRequest) -> None:
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        if isinstance(message, mcp_types.ResourceUpdatedNotification):
            updates.append(str(message.params.uri))

    uri = "demo://resource/static/document/architecture.md"
    async with signed_in(upstream_sandbox, message_handler=on_message) as client:
        await client.session.subscribe_resource(uri)
        if "stdio" in request.node.callspec.id:
            # One process session, as direct: the server's updates reach the subscriber.
            await client.call_tool("toggle-subscriber-updates", {})
            for _ in range(100):
                if updates:
                    break
                await asyncio.sleep(0.1)
            await client.call_tool("toggle-subscriber-updates", {})
            assert updates and updates[0] == uri
        await client.session.unsubscribe_resource(uri)
