"""uvicorn's httptools protocol as the mock serves with it: one write per response, and its
documents (discovery, the JWKS) answered inside the parser's callback.

uvicorn (0.54, httptools) writes a response's status line and headers, then its body, as two
``transport.write`` calls: two ``send`` syscalls and two TCP segments for every small answer
(uvloop writes at once, and sets TCP_NODELAY). For the mock's hottest answers (the JWKS,
discovery, tokens) that second syscall was a sixth of the server's CPU per request under wrk.
:class:`OneWritePerResponse` holds the first write until the next one joins it (the body,
in the same loop iteration), a response's end, or the next loop iteration, whichever comes
first, so a streamed answer is never held back longer than that.
``tests/mock_idp/test_standalone_serving.py`` notices when uvicorn itself coalesces the two writes.

:class:`DocumentsInProtocol` goes one step further for the standalone mock's documents: the
answer to a document GET is fixed bytes, yet uvicorn built an ASGI scope, a request cycle, an
event and a task for it, and ran the task's coroutines and its header checks on the next loop
iteration. It writes the same bytes from the header callback instead, wherever the ASGI path
would answer exactly what the app's :class:`DocumentShortcut` answers; anything else goes the
ASGI way unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle

from mock_idp.documents import DocumentShortcut, Encoded


class _HeldWrite(asyncio.Transport):
    """A transport that holds one write back until the next write, ``flush()`` or the next
    loop iteration; everything else goes straight to ``transport``."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            joined, self._held = self._held + data, None
            self._transport.write(joined)

    def write_whole(self, data: bytes) -> None:
        """``data`` at once: a whole response, nothing to join it to."""
        self.flush()
        self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self.flush()
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")


class OneWritePerResponse(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each response's head and body in one syscall."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._held_write = _HeldWrite(transport, self.loop)
        super().connection_made(self._held_write)

    def on_response_complete(self) -> None:
        self._held_write.flush()  # a response with no body write (HEAD, 204) goes now
        super().on_response_complete()


class _Wire:
    """Each document's whole response, head and body, as bytes, built once per version, method
    (HEAD has no body) and keep-alive (uvicorn adds ``connection: close`` otherwise), and again
    whenever uvicorn's default headers change (its ``date`` header, once a second)."""

    def __init__(self) -> None:
        self._defaults: list[tuple[bytes, bytes]] | None = None
        self._bytes: dict[tuple[Encoded, bool, bool], bytes] = {}

    def response(self, encoded: Encoded, head: bool, keep_alive: bool, defaults: list[tuple[bytes, bytes]]) -> bytes:
        if defaults is not self._defaults:
            self._defaults, self._bytes = defaults, {}
        key = (encoded, head, keep_alive)
        found = self._bytes.get(key)
        if found is None:
            # What uvicorn's RequestResponseCycle.send writes for these headers: its defaults first.
            lines = [STATUS_LINE[200], *(name + b": " + value + b"\r\n" for name, value in defaults + encoded.headers)]
            if not keep_alive:
                lines.append(b"connection: close\r\n")
            lines += [b"\r\n", b"" if head else encoded.body]
            found = self._bytes[key] = b"".join(lines)
        return found


_WIRE = _Wire()


class DocumentsInProtocol(OneWritePerResponse):
    """:class:`OneWritePerResponse`, answering the app's documents without an ASGI request.

    Only where the ASGI path's answer is the shortcut's 200, byte for byte: the loaded app is the
    :class:`DocumentShortcut` itself (no proxy-headers or logging middleware around it), no access
    log, no concurrency limit, no root path, a GET or HEAD of a document's exact path, no
    upgrade, no earlier response still under way (a pipelined request waits its turn), no write
    back-pressure, and the document renders. Everything else, a failing render's 500 included,
    is uvicorn's own path.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        app = self.app
        exact = isinstance(app, DocumentShortcut) and not self.access_log and self.limit_concurrency is None
        self._shortcut = app if exact and not self.root_path else None
        # Stands in as the connection's current cycle once a request is answered here: a
        # complete one, so a body of that request is dropped (as after the shortcut's answer)
        # and the next request starts at once.
        self._answered: RequestResponseCycle | None = None

    def on_headers_complete(self) -> None:
        keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()  # as uvicorn's
        wire = self._document_answer(keep_alive)
        if wire is None:
            super().on_headers_complete()
            return
        self._held_write.write_whole(wire)
        self.cycle = self._answered or self._answered_cycle()
        if not keep_alive:
            self.transport.close()
        self.on_response_complete()

    def _document_answer(self, keep_alive: bool) -> bytes | None:
        """The whole response when this request is answered here, else None."""
        shortcut, parser = self._shortcut, self.parser
        if shortcut is None or (self.cycle is not None and not self.cycle.response_complete):
            return None
        method = parser.get_method()
        if (method != b"GET" and method != b"HEAD") or parser.should_upgrade() or self.flow.write_paused:
            return None
        try:
            # A percent-encoded path is no document's key here, so it goes uvicorn's way (which decodes it).
            found = shortcut.find(httptools.parse_url(self.url).path.decode("ascii"))
            if found is None:
                return None
            encoded = found[1].current(found[0])
        except Exception:  # uvicorn's path meets it again, and answers as it always has
            return None
        return _WIRE.response(encoded, method == b"HEAD", keep_alive, self.server_state.default_headers)

    def _answered_cycle(self) -> RequestResponseCycle:
        cycle = RequestResponseCycle(
            scope=self.scope,
            transport=self.transport,
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=False,
            default_headers=[],
            message_event=asyncio.Event(),
            expect_100_continue=False,
            keep_alive=True,
            on_response=lambda: None,
        )
        cycle.response_started = cycle.response_complete = True
        self._answered = cycle
        return cycle
