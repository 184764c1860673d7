"""Client ID Metadata Documents, offline: the client_id is an HTTPS URL on loopback, served with a
certificate from the sandbox's own CA, and no registration call is made."""

from __future__ import annotations

import base64
import hashlib
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import httpx2
import pytest
from mcp import Client as SDKClient
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientMetadata

from e2e.test_headless_clients import InMemoryTokenStorage
from sandbox.testing.cimd import hosted_client_metadata
from sandbox.testing.stack import SandboxStack
from sandbox.tls import LocalCA

REDIRECT_URI = "http://127.0.0.1:53682/callback"
CLIENT_NAME = "CIMD e2e client (Python SDK)"


def document(**fields: object) -> dict[str, object]:
    return {
        "client_name": CLIENT_NAME,
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **fields,
    }


def sandbox_ca(sandbox: SandboxStack) -> LocalCA:
    return LocalCA(sandbox.settings.tls_dir)


def authorize_url(sandbox: SandboxStack, client_id: str, redirect_uri: str = REDIRECT_URI) -> str:
    return authorization_request(sandbox, client_id, redirect_uri)[0]


def authorization_request(sandbox: SandboxStack, client_id: str, redirect_uri: str = REDIRECT_URI) -> tuple[str, str]:
    """An authorization URL by hand, and its PKCE verifier."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": secrets.token_urlsafe(8),
        "resource": sandbox.mcp_url,
    }
    return f"{sandbox.base_url}/authorize?{urlencode(query)}", verifier


async def test_mcp_sdk_completes_the_flow_with_a_url_client_id(sandbox, headless_browser):
    storage = InMemoryTokenStorage()
    browser = headless_browser("alice")
    results = []

    async def redirect_handler(url: str) -> None:
        results.append(await browser.authorize(url))

    async def callback_handler():
        return results.pop()

    with hosted_client_metadata(sandbox_ca(sandbox), document()) as hosted:
        auth = OAuthClientProvider(
            server_url=sandbox.mcp_url,
            client_metadata=OAuthClientMetadata(redirect_uris=[REDIRECT_URI], token_endpoint_auth_method="none"),
            storage=storage,
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
            client_metadata_url=hosted.url,
        )
        async with (
            httpx2.AsyncClient(auth=auth, timeout=30) as http,
            SDKClient(streamable_http_client(sandbox.mcp_url, http_client=http)) as client,
        ):
            result = await client.call_tool("greet", {"name": "CIMD"})
    assert "signed in as alice" in result.content[0].text
    assert storage.client_info is not None and storage.client_info.client_id == hosted.url
    assert hosted.fetches, "the proxy never fetched the document"


async def test_consent_page_names_the_client_from_its_document(sandbox):
    if not sandbox.settings.consent:
        pytest.skip("this sandbox runs without a consent screen")
    with hosted_client_metadata(sandbox_ca(sandbox), document()) as hosted:
        async with httpx.AsyncClient(follow_redirects=True, timeout=30) as http:
            page = await http.get(authorize_url(sandbox, hosted.url))
    assert page.status_code == 200 and "/consent" in str(page.url)
    assert CLIENT_NAME in page.text
    assert urlsplit(hosted.url).hostname in page.text  # FastMCP's "verified domain" line


async def test_a_document_whose_certificate_is_not_from_a_trusted_ca_is_refused(sandbox):
    with tempfile.TemporaryDirectory() as directory:
        stranger = LocalCA(Path(directory))
        with hosted_client_metadata(stranger, document()) as hosted:
            async with httpx.AsyncClient(timeout=30) as http:
                answer = await http.get(authorize_url(sandbox, hosted.url))
        assert not hosted.fetches  # the TLS handshake failed before any request was made
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert "is not registered" in answer.json()["error_description"]


async def test_a_document_naming_another_client_id_is_refused(sandbox):
    with hosted_client_metadata(
        sandbox_ca(sandbox), document(client_id="https://127.0.0.1:1/somebody-else.json")
    ) as hosted:
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.get(authorize_url(sandbox, hosted.url))
        assert hosted.fetches  # fetched, then refused for what it says
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert "is not registered" in answer.json()["error_description"]


async def test_a_redirect_uri_the_document_does_not_list_is_refused(sandbox):
    with hosted_client_metadata(sandbox_ca(sandbox), document()) as hosted:
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.get(authorize_url(sandbox, hosted.url, redirect_uri="http://127.0.0.1:53682/elsewhere"))
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_request"
    assert "does not match CIMD redirect_uris" in answer.json()["error_description"]


async def test_the_trace_shows_the_document_fetch_as_its_own_hop(sandbox):
    async with httpx.AsyncClient(timeout=30) as http:
        await http.delete(f"{sandbox.base_url}/sandbox/trace")
        with hosted_client_metadata(sandbox_ca(sandbox), document()) as hosted:
            await http.get(authorize_url(sandbox, hosted.url))
        flows = (await http.get(f"{sandbox.base_url}/sandbox/trace.json")).json()["flows"]
    steps = [step for flow in flows for step in flow["steps"] if step["kind"] == "cimd_fetch"]
    assert steps, [step["kind"] for flow in flows for step in flow["steps"]]
    fetch = steps[0]
    assert (fetch["source"], fetch["target"], fetch["status"]) == ("proxy", "client", 200)
    assert fetch["url"] == hosted.url
    assert CLIENT_NAME in fetch["note"]
    assert "client-id-metadata-document" in fetch["rfc"]
