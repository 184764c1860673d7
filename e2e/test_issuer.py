"""The proxy's issuer is one string, with no trailing slash, wherever a client meets it."""

from __future__ import annotations

import base64
import json

import httpx

from e2e.test_cimd import REDIRECT_URI, authorization_request, document, sandbox_ca
from sandbox.testing.cimd import hosted_client_metadata


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


async def test_metadata_documents_tokens_and_responses_carry_the_same_issuer(sandbox, headless_browser):
    async with httpx.AsyncClient() as http:
        metadata = (await http.get(f"{sandbox.base_url}/.well-known/oauth-authorization-server")).json()
        resource = (await http.get(f"{sandbox.base_url}/.well-known/oauth-protected-resource/mcp")).json()
        assert metadata["issuer"] == sandbox.base_url  # no trailing slash
        assert resource["authorization_servers"] == [sandbox.base_url]

        with hosted_client_metadata(sandbox_ca(sandbox), document()) as hosted:
            url, verifier = authorization_request(sandbox, hosted.url)
            result = await headless_browser("bob").authorize(url)
            token = await http.post(
                f"{sandbox.base_url}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": result.code,
                    "code_verifier": verifier,
                    "client_id": hosted.url,
                    "redirect_uri": REDIRECT_URI,
                    "resource": sandbox.mcp_url,
                },
            )
    assert token.status_code == 200, token.text
    # RFC 9207's iss on the redirect and the token's iss: the metadata's issuer, byte for byte.
    assert result.iss == metadata["issuer"]
    assert claims(token.json()["access_token"])["iss"] == metadata["issuer"]
