"""``resources/subscribe`` and ``resources/unsubscribe`` through the proxy, and the updates back.

FastMCP's proxy relays neither (a client's subscribe gets "Method not found"), and it
opens a fresh upstream session per request, which could not hold a subscription anyway.
So each front connection that subscribes gets upstream subscriptions of its own:

- HTTP: an upstream session kept open for that connection (opened inside the subscribe
  request, so it carries the subscriber's identity headers), closed with the connection;
- stdio: the one shared process session; its updates are routed by URI to each
  connection that subscribed.

``notifications/resources/updated`` from the upstream goes to the subscribing
connection's standalone stream, as a direct connection would deliver it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, cast

import anyio
import mcp_types
from fastmcp import Client
from fastmcp.client.messages import Message
from fastmcp.client.transports import ClientTransport
from mcp.server.connection import Connection
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server

log = logging.getLogger("sandbox.upstream")
STATE_KEY = "sandbox.upstream.subscription"


class SubscriptionRelay:
    def __init__(
        self,
        http_transport: Callable[[], ClientTransport] | None,
        shared_client: Callable[[], Client[ClientTransport]] | None,
        on_failure: Callable[[Exception], Exception],
    ) -> None:
        # Exactly one is set: a transport per connection (HTTP), or clients of the shared session (stdio).
        self.http_transport = http_transport
        self.shared_client = shared_client
        self.on_failure = on_failure
        # stdio: URI -> the connections subscribed to it.
        self.subscribers: dict[str, set[Connection]] = {}

    async def forward_update(self, message: Message, connections: set[Connection]) -> None:
        if isinstance(message, mcp_types.ResourceUpdatedNotification):
            for connection in list(connections):
                await connection.send_resource_updated(str(message.params.uri))

    async def on_shared_message(self, message: Message) -> None:
        """The stdio session's updates, to whoever subscribed to that URI."""
        if isinstance(message, mcp_types.ResourceUpdatedNotification):
            await self.forward_update(message, self.subscribers.get(str(message.params.uri), set()))

    async def _connection_client(self, connection: Connection) -> Client[ClientTransport]:
        kept = cast("Client[ClientTransport] | None", connection.state.get(STATE_KEY))
        if kept is not None:
            return kept
        assert self.http_transport is not None
        client = Client(
            self.http_transport(),
            mode="legacy",
            message_handler=lambda message: self.forward_update(message, {connection}),
        )
        await client.__aenter__()
        connection.state[STATE_KEY] = client

        async def close() -> None:
            with anyio.CancelScope(shield=True):
                await client.__aexit__(None, None, None)

        connection.exit_stack.push_async_callback(close)
        return client

    async def subscribe(
        self, ctx: ServerRequestContext[Any], params: mcp_types.SubscribeRequestParams
    ) -> mcp_types.EmptyResult:
        connection: Connection = ctx.session._connection
        uri = str(params.uri)
        try:
            if self.shared_client is not None:
                async with self.shared_client() as client:
                    await client.session.subscribe_resource(uri)
                self.subscribers.setdefault(uri, set()).add(connection)
                connection.exit_stack.callback(self._forget, connection)
            else:
                client = await self._connection_client(connection)
                await client.session.subscribe_resource(uri)
        except Exception as exc:
            self.fail(exc)
        return mcp_types.EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any], params: mcp_types.UnsubscribeRequestParams
    ) -> mcp_types.EmptyResult:
        connection: Connection = ctx.session._connection
        uri = str(params.uri)
        try:
            if self.shared_client is not None:
                subscribed = self.subscribers.get(uri, set())
                subscribed.discard(connection)
                if not subscribed:  # the last one out unsubscribes upstream
                    self.subscribers.pop(uri, None)
                    async with self.shared_client() as client:
                        await client.session.unsubscribe_resource(uri)
            else:
                client = await self._connection_client(connection)
                await client.session.unsubscribe_resource(uri)
        except Exception as exc:
            self.fail(exc)
        return mcp_types.EmptyResult()

    def fail(self, error: Exception) -> None:
        """Raise what the client should see: the upstream's own error, or one naming a failed hop."""
        failure = self.on_failure(error)
        if failure is error:
            raise error
        raise failure from error

    def _forget(self, connection: Connection) -> None:
        for connections in self.subscribers.values():
            connections.discard(connection)

    def install(self, low_level_server: Server[Any]) -> None:
        low_level_server.add_request_handler("resources/subscribe", mcp_types.SubscribeRequestParams, self.subscribe)
        low_level_server.add_request_handler(
            "resources/unsubscribe", mcp_types.UnsubscribeRequestParams, self.unsubscribe
        )
