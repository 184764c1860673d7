from mockidp_support import OIDC, PROXY, code_tokens


async def test_code_flow_smoke(client):
    tokens = await code_tokens(client)
    assert tokens["token_type"] == "Bearer"
    info = await client.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200, info.text
    assert info.json()["preferred_username"] == "alice"
    intro = await client.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["access_token"]})
    assert intro.json()["active"] is True, intro.text
