"""Testing your own MCP server behind FastMCP's OAuth proxy with the sandbox's fixtures only.

Run: pytest examples/                             (mock IdP, in-process)
     pytest examples/ --sandbox-backend keycloak  (a real Keycloak; mock-only tests skip)
"""

import pytest
from fastmcp.exceptions import ToolError

pytestmark = pytest.mark.asyncio


async def test_alice_may_delete_a_note(mcp_client):
    async with mcp_client("alice") as client:  # signs in: registration, consent, login
        note = (await client.call_tool("add_note", {"text": "buy milk"})).data
        assert note["author"] == "alice"
        deleted = await client.call_tool("delete_note", {"note_id": note["id"]})
    assert deleted.data == f"deleted note {note['id']}"


async def test_bob_may_not(mcp_client):
    async with mcp_client("bob") as client:
        note = (await client.call_tool("add_note", {"text": "bob's"})).data
        with pytest.raises(ToolError, match="mcp-admin role is required"):
            await client.call_tool("delete_note", {"note_id": note["id"]})


async def test_a_user_created_at_run_time_gets_the_role_it_was_given(idp, mcp_client):
    idp.create_user("carol", "carol-pw", roles=["mcp-user", "mcp-admin"], email="carol@example.com")
    async with mcp_client("carol") as client:
        note = (await client.call_tool("add_note", {"text": "carol's"})).data
        assert note["author"] == "carol"
        await client.call_tool("delete_note", {"note_id": note["id"]})

    idp.remove_roles("carol", "mcp-admin")
    async with mcp_client("carol") as client:  # a new sign-in: the new token has no mcp-admin
        note = (await client.call_tool("add_note", {"text": "again"})).data
        with pytest.raises(ToolError, match="mcp-admin role is required"):
            await client.call_tool("delete_note", {"note_id": note["id"]})


@pytest.mark.mock_only
async def test_claims_set_at_run_time_reach_the_server(idp, mcp_client):
    idp.set_claims("bob", team="blue")
    async with mcp_client("bob") as client:
        note = (await client.call_tool("add_note", {"text": "team note"})).data
    assert note["team"] == "blue"
