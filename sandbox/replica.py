"""Which replica answered: ``X-Sandbox-Replica: HOST:PORT`` on every response behind ``--public-url``.

Behind a load balancer every replica has the same URL; this header is how a client, a test
or an operator reading the balancer's log tells them apart.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REPLICA_HEADER = "X-Sandbox-Replica"


class ReplicaHeader:
    def __init__(self, app: ASGIApp, *, replica: str) -> None:
        self.app = app
        self.replica = replica

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REPLICA_HEADER] = self.replica
            await send(message)

        await self.app(scope, receive, send_with_header)
