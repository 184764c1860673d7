"""--mode native-dcr on either backend: no proxy; the client registers at the IdP itself."""

from __future__ import annotations

import json

import httpx
from fastmcp import Client
from joserfc import jwt
from joserfc.jwk import KeySet
from key_value.aio.stores.memory import MemoryStore

from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
from sandbox.testing.server import running_sandbox


async def test_native_dcr_client_registers_at_the_idp_and_calls_greet(sandbox_settings, tmp_path):
    with running_sandbox(sandbox_settings("native-dcr", tmp_path, mode="native-dcr")) as running:
        realm_url = running.sandbox.upstream.realm_url
        async with httpx.AsyncClient() as http:
            metadata = (await http.get(f"{running.base_url}/.well-known/oauth-protected-resource/mcp")).json()
            proxy_register = await http.post(
                f"{running.base_url}/register", json={"redirect_uris": ["http://127.0.0.1:1/cb"]}
            )
        assert metadata["authorization_servers"] == [realm_url]
        assert proxy_register.status_code == 404  # no proxy in this mode

        browser = HeadlessBrowser("bob", "bob")
        auth = HeadlessOAuth(browser, token_storage=MemoryStore())
        async with Client(running.mcp_url, auth=auth) as client:
            greeting = (await client.call_tool("greet", {"name": "native"})).data
        client_info = await auth.token_storage_adapter.get_client_info()
        tokens = await auth.token_storage_adapter.get_tokens()
        async with httpx.AsyncClient() as http:
            keys = KeySet.import_key_set((await http.get(f"{realm_url}/protocol/openid-connect/certs")).json())
    assert greeting == "Hello, native! You are signed in as bob (roles: mcp-user)."
    assert browser.pages == ["login"]  # the IdP's login page, and no consent screen of the proxy's
    # The client holds the IdP's own token, issued to the client id the IdP registered.
    claims = jwt.decode(tokens.access_token, keys, algorithms=["RS256"]).claims
    assert claims["iss"] == realm_url and claims["azp"] == client_info.client_id
    assert running_mcp_url_in(claims["aud"], running.mcp_url)


def running_mcp_url_in(audience: str | list[str], mcp_url: str) -> bool:
    return mcp_url in ([audience] if isinstance(audience, str) else audience)


async def test_native_mode_describes_itself_on_the_landing_page_resource_and_prompt(sandbox_settings, tmp_path):
    with running_sandbox(sandbox_settings("native-dcr", tmp_path, mode="native-dcr")) as running:
        realm_url = running.sandbox.upstream.realm_url
        async with httpx.AsyncClient() as http:
            landing = (await http.get(f"{running.base_url}/")).text
        async with Client(
            running.mcp_url, auth=HeadlessOAuth(HeadlessBrowser("alice", "alice"), token_storage=MemoryStore())
        ) as client:
            config = json.loads((await client.read_resource("resource://server/config"))[0].text)
            prompt = (await client.get_prompt("explain_oauth_flow")).messages[0].content.text
    assert '<td id="mode">native-dcr</td>' in landing
    assert "register at the IdP itself" in landing and "Upstream client" not in landing
    assert "<tr><th>Every client</th><td>DCR at the IdP" in landing and "client_metadata_url" not in landing
    assert config["mode"] == "native-dcr" and config["authorization_server"] == realm_url
    assert "callback_url" not in config and "upstream_client_id" not in config
    assert "native DCR flow" in prompt and "second PKCE pair" in prompt and "Consent." not in prompt
