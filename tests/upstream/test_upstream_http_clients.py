"""The upstream's httpx clients: the process's one TLS trust store for all of them, still verifying.

FastMCP builds a backend connection, so asks IdentityHttpClients for a client, on every
proxied request; parsing the CA bundle for each was most of the proxy hop's CPU.
"""

from __future__ import annotations

import ssl

import httpx2

from sandbox.trust_store import default_trust_store
from sandbox.upstream.identity import IdentityHeaders
from sandbox.upstream.server import IdentityHttpClients


async def test_plain_httpx_parses_the_bundle_per_client(bundle_loads: list[object]) -> None:
    """What the shared context avoids: httpx's default loads the bundle for every client."""
    for _ in range(3):
        await httpx2.AsyncClient().aclose()
    assert len(bundle_loads) == 3


async def test_upstream_clients_load_no_bundle_of_their_own(bundle_loads: list[object]) -> None:
    factory = IdentityHttpClients(IdentityHeaders(), None, 5.0)
    assert factory.tls is default_trust_store()  # the process's one, loaded at most once
    bundle_loads.clear()
    for _ in range(3):
        await factory().aclose()
    assert bundle_loads == []
    assert factory.tls.verify_mode == ssl.CERT_REQUIRED
    assert factory.tls.check_hostname
