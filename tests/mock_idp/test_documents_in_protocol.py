"""mock_idp/protocol.py's DocumentsInProtocol: the standalone mock's documents answered inside
uvicorn's header callback, with the bytes, order and connection handling of uvicorn's own path."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from mockidp_support import RecordingTransport, behind_its_shortcut
from uvicorn.server import ServerState

from mock_idp.documents import DocumentShortcut
from mock_idp.protocol import DocumentsInProtocol, OneWritePerResponse
from mock_idp.serving import config

CERTS = "/realms/sandbox/protocol/openid-connect/certs"


def get(path: str = CERTS, method: str = "GET", version: str = "1.1", extra: str = "") -> bytes:
    return f"{method} {path} HTTP/{version}\r\nHost: localhost:8080\r\n{extra}\r\n".encode("ascii")


class Connection:
    """One protocol on a recording transport; ``feed`` returns what was written at once,
    before the loop ran anything (an ASGI task cannot have)."""

    def __init__(self, protocol_class: type[OneWritePerResponse], app: Any) -> None:
        settings = config(app)
        settings.load()
        self.state = ServerState()
        self.protocol = protocol_class(config=settings, server_state=self.state, app_state={})
        self.transport = RecordingTransport()
        self.protocol.connection_made(self.transport)

    def feed(self, data: bytes) -> bytes:
        self.protocol.data_received(data)
        return b"".join(self.transport.writes)

    async def settle(self) -> bytes:
        for _ in range(10):
            await asyncio.sleep(0)
        return b"".join(self.transport.writes)


@pytest.fixture
def app(tmp_path: Any) -> Any:
    return behind_its_shortcut(tmp_path)[1]


REQUESTS = {
    "GET": get(),
    "HEAD": get(method="HEAD"),
    "discovery": get("/realms/sandbox/.well-known/openid-configuration"),
    "RFC 8414 metadata": get("/realms/sandbox/.well-known/oauth-authorization-server"),
    "query string": get(CERTS + "?x=1"),
    "HTTP/1.0": get(version="1.0"),
    "Connection: close": get(extra="Connection: close\r\n"),
    "a body on the GET, then another GET": get(extra="Content-Length: 3\r\n") + b"abc" + get(),
    "three pipelined": get() * 3,
    "percent-encoded path": get(CERTS.replace("certs", "cert%73")),
    "POST": get(method="POST", extra="Content-Length: 0\r\n"),
    "unknown path": get("/realms/sandbox/protocol/openid-connect/nothing"),
    "master realm's JWKS": get("/realms/master/protocol/openid-connect/certs"),
}


@pytest.mark.parametrize("request_bytes", REQUESTS.values(), ids=REQUESTS.keys())
async def test_the_same_bytes_and_connection_handling_as_uvicorns_path(app: Any, request_bytes: bytes) -> None:
    ours, theirs = Connection(DocumentsInProtocol, app), Connection(OneWritePerResponse, app)
    ours.feed(request_bytes)
    theirs.feed(request_bytes)
    assert await ours.settle() == await theirs.settle()
    assert ours.transport.closed == theirs.transport.closed
    assert ours.state.total_requests == theirs.state.total_requests


@pytest.mark.parametrize("name", ["GET", "HEAD", "discovery", "HTTP/1.0", "three pipelined"])
async def test_documents_are_answered_in_the_callback_without_a_task(app: Any, name: str) -> None:
    connection = Connection(DocumentsInProtocol, app)
    written = connection.feed(REQUESTS[name])
    assert written.startswith(b"HTTP/1.1 200 OK\r\n") and not connection.state.tasks
    assert written == await connection.settle()


async def test_a_close_after_the_answer_only_when_the_request_asks_for_it(app: Any) -> None:
    kept, closed = Connection(DocumentsInProtocol, app), Connection(DocumentsInProtocol, app)
    assert b"connection: close" not in kept.feed(get()) and not kept.transport.closed
    assert b"\r\nconnection: close\r\n" in closed.feed(get(version="1.0")) and closed.transport.closed


async def test_a_document_pipelined_behind_a_slow_answer_waits_its_turn(app: Any) -> None:
    release = asyncio.Event()

    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"4")]})
        await release.wait()
        await send({"type": "http.response.body", "body": b"slow"})

    connection = Connection(DocumentsInProtocol, DocumentShortcut(slow, app.documents))
    connection.feed(get("/slow") + get())
    assert (await connection.settle()).count(b"HTTP/1.1") == 1
    release.set()
    written = await connection.settle()
    first, _, second = written.partition(b"slow")
    assert first.startswith(b"HTTP/1.1 200 OK") and second.startswith(b"HTTP/1.1 200 OK") and b'"keys"' in second


async def test_under_write_back_pressure_a_document_waits_for_the_drain(app: Any) -> None:
    connection = Connection(DocumentsInProtocol, app)
    connection.protocol.pause_writing()
    assert connection.feed(get()) == b"" and await connection.settle() == b""
    connection.protocol.resume_writing()
    assert (await connection.settle()).startswith(b"HTTP/1.1 200 OK")


async def test_a_new_date_header_is_in_the_next_answer(app: Any) -> None:
    connection = Connection(DocumentsInProtocol, app)
    connection.state.default_headers = [(b"date", b"Tue, 01 Dec 2026 21:00:00 GMT")]
    assert b"\r\ndate: Tue, 01 Dec 2026 21:00:00 GMT\r\n" in connection.feed(get())
    connection.state.default_headers = [(b"date", b"Tue, 01 Dec 2026 21:00:01 GMT")]
    assert connection.feed(get()).count(b"21:00:01 GMT") == 1


async def test_an_armed_fault_reaches_the_full_stack(app: Any) -> None:
    app.app.state.idp.add_fault("certs", status=503)
    connection = Connection(DocumentsInProtocol, app)
    assert connection.feed(get()) == b""
    assert (await connection.settle()).startswith(b"HTTP/1.1 503 ")


async def test_a_failing_render_is_the_apps_json_500_logged_once(
    app: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ((_, certs),) = [found for path, found in app.documents.items() if path == CERTS]

    def broken(idp: Any) -> Any:
        raise RuntimeError("render failed")

    monkeypatch.setattr(certs, "render", broken)  # the document is shared by every app: restored after
    connection = Connection(DocumentsInProtocol, app)
    with caplog.at_level(logging.ERROR):
        connection.feed(get())
        written = await connection.settle()
    assert written.startswith(b"HTTP/1.1 500 ")
    assert b'{"error":"server_error","error_description":"Unexpected server error"}' in written
    assert [record.getMessage() for record in caplog.records].count(f"unexpected error handling GET {CERTS}") == 1


async def test_an_app_that_is_not_the_shortcut_is_served_as_by_one_write(app: Any) -> None:
    # Wrapped (here by a plain function), the app could answer differently: uvicorn's path.
    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        await app(scope, receive, send)

    connection = Connection(DocumentsInProtocol, wrapped)
    assert connection.feed(get()) == b""
    assert (await connection.settle()).startswith(b"HTTP/1.1 200 OK")
