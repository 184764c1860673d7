"""Client ID Metadata Documents on loopback, for local development only.

FastMCP's CIMD fetcher refuses loopback addresses (SSRF protection) and trusts only the
public roots, so no document on a developer's machine can ever be fetched. The sandbox
keeps every one of FastMCP's rules for every other URL and adds one narrow exception: a
document at ``https://localhost``, ``https://127.0.0.1`` or ``https://[::1]`` is fetched
when its server's certificate chains to the sandbox's local CA (or ``--cimd-ca``).
FastMCP 4.2.3 has no setting for this; ``tests/sandbox/test_cimd_fetcher.py`` fails once
it has one (or stops refusing loopback), so this override can go.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx2
from fastmcp.server.auth.cimd import CIMDDocument, CIMDFetcher, CIMDFetchError, CIMDValidationError
from httpx2._client import EventHook

from mock_idp.bodies import loads_bounded
from sandbox.tls import LOOPBACK_NAMES, client_context

if TYPE_CHECKING:
    from sandbox.trace.upstream import ClientHooks


def is_loopback_document(url: str) -> bool:
    """Only literal loopback names: a DNS name that merely resolves to 127.0.0.1 stays refused."""
    parts = urlsplit(url)
    return parts.scheme == "https" and parts.hostname in LOOPBACK_NAMES


# FastMCP's deadline for a whole document fetch (cimd.py, ``overall_timeout=30.0``).
OVERALL_TIMEOUT_SECONDS = 30.0


class LoopbackCIMDFetcher(CIMDFetcher):
    """FastMCP's fetcher, plus loopback documents whose certificate chains to a trusted CA.

    Loopback documents are not cached: a developer editing one sees the change at the next
    authorization. Size limit, timeout, no redirects and the document checks are FastMCP's,
    and so is the deadline for the whole fetch: httpx's timeout is per read, so a server
    sending a byte every few seconds held /authorize open for good.
    """

    def __init__(self, ca_files: list[Path], trace_hooks: ClientHooks | None = None) -> None:
        super().__init__()
        self.ca_files = ca_files
        self.trace_hooks = trace_hooks
        self._context: ssl.SSLContext = client_context(ca_files)

    async def fetch(self, client_id_url: str) -> CIMDDocument:
        if not is_loopback_document(client_id_url):
            return await super().fetch(client_id_url)
        try:
            async with asyncio.timeout(OVERALL_TIMEOUT_SECONDS):
                content = await self._fetch_loopback(client_id_url)
        except TimeoutError:
            raise CIMDFetchError(f"Timed out after {OVERALL_TIMEOUT_SECONDS:.0f} s fetching {client_id_url}") from None
        try:
            # Bounded (mock_idp.bodies): 5 KiB of "[" was a RecursionError and a 500 at /authorize.
            doc = CIMDDocument.model_validate(loads_bounded(content))
        except ValueError as error:  # JSON errors, TooDeep and pydantic's ValidationError all are
            raise CIMDValidationError(f"Invalid CIMD document: {error}") from error
        if str(doc.client_id).rstrip("/") != client_id_url.rstrip("/"):
            raise CIMDValidationError(
                f"CIMD client_id mismatch: document says '{doc.client_id}' but was fetched from '{client_id_url}'"
            )
        return doc

    async def _fetch_loopback(self, url: str) -> bytes:
        hooks: dict[str, list[EventHook]] = {"request": [], "response": []}
        async with httpx2.AsyncClient(
            verify=self._context, follow_redirects=False, timeout=self.timeout, trust_env=False, event_hooks=hooks
        ) as client:
            if self.trace_hooks is not None:
                self.trace_hooks.install(client)
            try:
                async with client.stream("GET", url, headers={"Accept": "application/json"}) as response:
                    if response.status_code != 200:
                        raise CIMDFetchError(f"HTTP {response.status_code} fetching {url}")
                    chunks: list[bytes] = []
                    async for chunk in response.aiter_bytes():
                        chunks.append(chunk)
                        if sum(map(len, chunks)) > self.MAX_RESPONSE_SIZE:
                            raise CIMDFetchError(f"Response too large: exceeded {self.MAX_RESPONSE_SIZE} bytes")
                    return b"".join(chunks)
            except httpx2.RequestError as error:
                # An untrusted certificate lands here: the document is refused, never fetched insecurely.
                raise CIMDFetchError(f"Error fetching {url}: {error}") from error
