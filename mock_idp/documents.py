"""JSON documents that change rarely (discovery, the JWKS), encoded once and served as bytes.

Relying parties fetch these on every start and every unknown ``kid``, so they are the mock's
hottest GETs. Each is encoded once per version (a value that changes when the document does)
and answered as a raw ASGI endpoint: no Request or Response objects, no JSON encoding per
request. The headers are Keycloak 26.7.3's: its ``Cache-Control``, and no ETag (a real
Keycloak answers ``If-None-Match`` with the full document, so the mock does too).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope, Send

from mock_idp.idp import IdentityProvider


@dataclass(frozen=True)
class Document:
    """A document's current ``version`` and how to build it (called only for a new version)."""

    version: Hashable
    render: Callable[[], Any]


@dataclass(frozen=True)
class _Encoded:
    version: Hashable
    body: bytes
    headers: list[tuple[bytes, bytes]]


class JsonDocument:
    """The raw ASGI endpoint for one document of the realm's IdP (``scope["app"].state.idp``)."""

    def __init__(self, document: Callable[[IdentityProvider], Document], cache_control: str) -> None:
        self.document = document
        self.cache_control = cache_control.encode("ascii")
        self._cache: weakref.WeakKeyDictionary[IdentityProvider, _Encoded] = weakref.WeakKeyDictionary()

    def _current(self, idp: IdentityProvider) -> _Encoded:
        wanted = self.document(idp)
        cached = self._cache.get(idp)
        if cached is None or cached.version != wanted.version:
            # As JSONResponse encodes: compact, UTF-8 as it is.
            body = json.dumps(wanted.render(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers = [
                (b"content-length", str(len(body)).encode("ascii")),
                (b"content-type", b"application/json"),
                (b"cache-control", self.cache_control),
            ]
            cached = self._cache[idp] = _Encoded(wanted.version, body, headers)
        return cached

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        encoded = self._current(scope["app"].state.idp)
        await send({"type": "http.response.start", "status": 200, "headers": encoded.headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else encoded.body})
