"""The upstream's httpx clients: one TLS context for all of them, still verifying.

FastMCP builds a backend connection, so asks IdentityHttpClients for a client, on every
proxied request; parsing the CA bundle for each was most of the proxy hop's CPU.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx2
import pytest

from sandbox.upstream.identity import IdentityHeaders
from sandbox.upstream.server import IdentityHttpClients


@pytest.fixture
def bundle_loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Each CA bundle an SSL context loads, recorded."""
    loads: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    return loads


async def test_plain_httpx_parses_the_bundle_per_client(bundle_loads: list[object]) -> None:
    """What the shared context avoids: httpx's default loads the bundle for every client."""
    for _ in range(3):
        await httpx2.AsyncClient().aclose()
    assert len(bundle_loads) == 3


async def test_upstream_clients_load_the_bundle_once(bundle_loads: list[object]) -> None:
    factory = IdentityHttpClients(IdentityHeaders(), None, 5.0)
    for _ in range(3):
        await factory().aclose()
    assert len(bundle_loads) == 1
    assert factory.tls.verify_mode == ssl.CERT_REQUIRED
    assert factory.tls.check_hostname
