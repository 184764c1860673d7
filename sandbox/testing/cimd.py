"""Host a Client ID Metadata Document on loopback HTTPS, with a certificate from a sandbox's CA.

A CIMD client's ``client_id`` is its document's URL, so a test needs a real HTTPS server
on a real port: this is that server, for as long as the ``with`` block runs::

    with hosted_client_metadata(LocalCA(settings.tls_dir), {"client_name": "My client",
                                "redirect_uris": ["http://127.0.0.1:33418/callback"]}) as hosted:
        provider = OAuthClientProvider(..., client_metadata_url=hosted.url)

``client_id`` is filled in with the URL unless the document names one (to test a mismatch).
``hosted.document`` may be changed while it runs: every fetch serves what it holds then.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.testing.server import free_port, serving
from sandbox.tls import LocalCA

DOCUMENT_PATH = "/oauth/client-metadata.json"


@dataclass
class HostedDocument:
    url: str
    document: dict[str, Any]
    fetches: list[str] = field(default_factory=list)  # the User-Agent of each fetch, in order


def client_metadata(url: str, *, client_name: str, redirect_uris: list[str], **fields: Any) -> dict[str, Any]:
    """A public client's document (no secret: CIMD forbids shared secrets), for ``url``."""
    return {
        "client_id": url,
        "client_name": client_name,
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **fields,
    }


@contextmanager
def hosted_client_metadata(
    ca: LocalCA, document: dict[str, Any], *, host: str = "127.0.0.1"
) -> Iterator[HostedDocument]:
    """Serve ``document`` at ``https://<host>:<free port>/oauth/client-metadata.json``."""
    port = free_port()
    url = f"https://{host}:{port}{DOCUMENT_PATH}"
    hosted = HostedDocument(url=url, document={"client_id": url, **document})

    async def serve(request: Request) -> Response:
        hosted.fetches.append(request.headers.get("user-agent", ""))
        return JSONResponse(hosted.document, headers={"Cache-Control": "no-store"})

    app = Starlette(routes=[Route(DOCUMENT_PATH, serve)])
    with tempfile.TemporaryDirectory(prefix="cimd-host-") as directory:
        issued = ca.issue(Path(directory))
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="off",
            ssl_certfile=str(issued.cert_file),
            ssl_keyfile=str(issued.key_file),
        )
        with serving(config):
            yield hosted
