"""JSON documents that change rarely (discovery, the JWKS), encoded once and served as bytes.

Relying parties fetch these on every start and every unknown ``kid``, so they are the mock's
hottest GETs. Each is encoded once per version (a value that changes when the document does)
and answered as a raw ASGI endpoint: no Request or Response objects, no JSON encoding per
request. The headers are Keycloak 26.7.3's: its ``Cache-Control``, and no ETag (a real
Keycloak answers ``If-None-Match`` with the full document, so the mock does too).

:class:`DocumentShortcut` answers them ahead of Starlette's middleware and routing, which
cost several times what sending the bytes does (a profile under wrk put 80% of a JWKS GET's
in-app CPU there). It steps aside whenever the full stack could answer differently: a
method other than GET/HEAD (405), or any fault armed in the realm (FaultMiddleware fires it).
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mock_idp.errors import SERVER_ERROR
from mock_idp.faults import route_path
from mock_idp.idp import IdentityProvider

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)  # compared by identity: mock_idp.protocol caches its wire bytes by it
class Encoded:
    """A document's version, its body, and its ASGI headers."""

    version: Hashable
    body: bytes
    headers: list[tuple[bytes, bytes]]


def _json(value: Any, version: Hashable = None, cache_control: bytes | None = None) -> Encoded:
    # As JSONResponse encodes: compact, UTF-8 as it is.
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    headers = [(b"content-length", str(len(body)).encode("ascii")), (b"content-type", b"application/json")]
    if cache_control is not None:
        headers.append((b"cache-control", cache_control))
    return Encoded(version, body, headers)


# The full stack's answer to an unexpected error: the outer shortcut sits outside Starlette's
# ServerErrorMiddleware (and the app's Exception handler), so it writes that answer itself.
_SERVER_ERROR = _json(SERVER_ERROR)


async def send_server_error(scope: Scope, send: Send) -> None:
    """The app's JSON 500, for a safety net outside Starlette's (nothing sent yet)."""
    await _send(scope, send, 500, _SERVER_ERROR)


class JsonDocument:
    """One document of a realm's IdP: ``version(idp)`` is cheap and changes when the document
    does; ``render(idp)`` builds it (called only for a new version)."""

    def __init__(
        self,
        version: Callable[[IdentityProvider], Hashable],
        render: Callable[[IdentityProvider], Any],
        cache_control: str,
    ) -> None:
        self.version = version
        self.render = render
        self.cache_control = cache_control.encode("ascii")
        self._cache: weakref.WeakKeyDictionary[IdentityProvider, Encoded] = weakref.WeakKeyDictionary()

    def current(self, idp: IdentityProvider) -> Encoded:
        wanted = self.version(idp)
        cached = self._cache.get(idp)
        if cached is None or cached.version != wanted:
            cached = self._cache[idp] = _json(self.render(idp), wanted, self.cache_control)
        return cached

    async def answer(self, idp: IdentityProvider, scope: Scope, send: Send) -> None:
        """The document, or (if building it raises, before anything is sent) the JSON 500."""
        try:
            encoded = self.current(idp)
        except Exception:
            # As the app's Exception handler: a safety net, logged, never a plain-text 500.
            log.exception("unexpected error handling %s %s", scope["method"], scope["path"])
            await send_server_error(scope, send)
            return
        await _send(scope, send, 200, encoded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As a route's endpoint, inside the realm's app (``scope["app"].state.idp``)."""
        await self.answer(scope["app"].state.idp, scope, send)


class DocumentShortcut:
    """ASGI middleware: ``documents`` (path below the app -> its IdP and document) answered
    before ``app`` sees the request, unless the full stack could answer otherwise."""

    def __init__(self, app: ASGIApp, documents: dict[str, tuple[IdentityProvider, JsonDocument]]) -> None:
        self.app = app
        self.documents = documents

    def find(self, path: str) -> tuple[IdentityProvider, JsonDocument] | None:
        """The IdP and document a GET or HEAD of ``path`` gets here, or None: not a document's
        path, or a fault is armed in its realm (the full stack fires it)."""
        found = self.documents.get(path)
        return found if found is not None and not found[0].faults.armed else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            found = self.find(route_path(scope))
            if found is not None:
                await found[1].answer(found[0], scope, send)
                return
        await self.app(scope, receive, send)


async def _send(scope: Scope, send: Send, status: int, encoded: Encoded) -> None:
    await send({"type": "http.response.start", "status": status, "headers": encoded.headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else encoded.body})
