"""The standalone mock's serving: one write per response, nothing held back; documents ahead of Starlette."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import uvicorn
from mockidp_support import BASE, OIDC, RecordingTransport, behind_its_shortcut
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from mock_idp.protocol import OneWritePerResponse
from mock_idp.serving import config

REQUEST = b"GET /doc HTTP/1.1\r\nHost: localhost\r\n\r\n"
HEAD_REQUEST = b"HEAD /doc HTTP/1.1\r\nHost: localhost\r\n\r\n"
BODY = b'{"keys":[]}'


async def document(scope, receive, send):
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


def stream(started: asyncio.Event, release: asyncio.Event):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        started.set()
        await release.wait()
        await send({"type": "http.response.body", "body": b"late", "more_body": False})

    return app


async def exchange(protocol_class, app, request: bytes = REQUEST, settings=None) -> RecordingTransport:
    settings = settings or uvicorn.Config(app, http=protocol_class, lifespan="off")
    settings.load()
    protocol = protocol_class(config=settings, server_state=ServerState(), app_state={})
    transport = RecordingTransport()
    protocol.connection_made(transport)
    protocol.data_received(request)
    for _ in range(5):  # the request's task, and a loop iteration after it
        await asyncio.sleep(0)
    return transport


async def test_uvicorn_still_writes_head_and_body_apart():
    # The defect OneWritePerResponse works around. Once this fails, uvicorn writes a response
    # in one call itself: drop mock_idp/protocol.py's held write (DocumentsInProtocol's answers are one write anyway).
    transport = await exchange(HttpToolsProtocol, document)
    assert len(transport.writes) == 2 and transport.writes[1] == BODY


async def test_a_response_is_one_write():
    transport = await exchange(OneWritePerResponse, document)
    assert len(transport.writes) == 1
    head, _, body = transport.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == BODY


async def test_a_head_response_is_not_held():
    transport = await exchange(OneWritePerResponse, document, HEAD_REQUEST)
    assert len(transport.writes) == 1 and transport.writes[0].endswith(b"\r\n\r\n")


async def test_a_streamed_head_goes_out_before_its_body():
    started, release = asyncio.Event(), asyncio.Event()
    transport = await exchange(OneWritePerResponse, stream(started, release))
    assert started.is_set()
    assert len(transport.writes) == 1 and transport.writes[0].startswith(b"HTTP/1.1 200 OK")
    release.set()
    for _ in range(5):
        await asyncio.sleep(0)
    assert b"late" in b"".join(transport.writes[1:])


async def test_the_mock_names_no_server_and_ignores_forwarded_headers():
    # uvicorn's defaults do both (a Server header, X-Forwarded-For trusted from loopback).
    seen: dict[str, Any] = {}

    async def app(scope, receive, send):
        seen["client"] = scope["client"]
        await document(scope, receive, send)

    forwarded = REQUEST.replace(b"\r\n\r\n", b"\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n")
    transport = await exchange(OneWritePerResponse, app, forwarded, config(app))
    assert b"\r\nserver:" not in transport.writes[0].lower()
    assert seen["client"] == ("127.0.0.1", 5000)


async def test_standalone_answers_documents_ahead_of_starlette_and_steps_aside_for_faults(tmp_path):
    app, shortcut = behind_its_shortcut(tmp_path)
    inner = await httpx.AsyncClient(transport=httpx.ASGITransport(app=app)).get(f"{OIDC}/certs")
    reached: list[str] = []
    stack = app.build_middleware_stack()

    async def recording(scope, receive, send):  # Starlette's own stack, noting what reaches it
        reached.append(scope["path"])
        await stack(scope, receive, send)

    app.middleware_stack = recording
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shortcut), base_url=BASE) as http:
        outer = await http.get(f"{OIDC}/certs")
        assert (outer.status_code, outer.content, outer.headers) == (200, inner.content, inner.headers)
        assert reached == []
        app.state.idp.add_fault("certs", status=503)
        faulted = await http.get(f"{OIDC}/certs")
    assert faulted.status_code == 503 and reached == ["/realms/sandbox/protocol/openid-connect/certs"]


async def test_a_document_that_fails_to_render_is_the_apps_json_500_ahead_of_starlette_too(
    tmp_path, caplog, monkeypatch
):
    # The outer shortcut is outside Starlette's ServerErrorMiddleware: without its own net,
    # uvicorn would answer a plain-text 500.
    _, shortcut = behind_its_shortcut(tmp_path)
    ((_, certs),) = [
        found for path, found in shortcut.documents.items() if path.endswith("/sandbox/protocol/openid-connect/certs")
    ]

    def broken(idp):
        raise RuntimeError("render failed")

    monkeypatch.setattr(certs, "render", broken)  # the document is shared by every app: restored after
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=shortcut), base_url=BASE) as http:
        answer = await http.get(f"{OIDC}/certs")
        head = await http.head(f"{OIDC}/certs")
    assert answer.status_code == 500 and answer.headers["content-type"] == "application/json"
    assert answer.json() == {"error": "server_error", "error_description": "Unexpected server error"}
    assert head.status_code == 500 and head.content == b""
    assert "render failed" in caplog.text
