"""Sixty tests that change the IdP through `idp` while the others run (tests/plugin/test_plugin_xdist.py
runs them under `pytest -n 4`; `make bench` times them). Each makes the same change with a value
of its own, so a user, claim or fault of one worker's test seen by another's fails that test.

Named suite_*.py so that the project's own run does not collect it.
"""

import pytest

pytestmark = pytest.mark.asyncio

RUNS = range(20)


async def add_note(mcp_client, user: str) -> dict:
    async with mcp_client(user) as client:
        return (await client.call_tool("add_note", {"text": f"{user}'s"})).data


@pytest.mark.parametrize("run", RUNS)
async def test_a_user_of_its_own(run, idp, mcp_client):
    # The same username in every test, each with its own password: on a shared IdP two collide.
    idp.create_user("carol", f"carol-pw-{run}", roles=["mcp-user"])
    assert (await add_note(mcp_client, "carol"))["author"] == "carol"


@pytest.mark.parametrize("run", RUNS)
async def test_claims_of_its_own(run, idp, mcp_client):
    idp.set_claims("bob", team=f"team-{run}")
    assert (await add_note(mcp_client, "bob"))["team"] == f"team-{run}"


@pytest.mark.parametrize("run", RUNS)
async def test_faults_of_its_own(run, idp, mcp_client):
    if run % 2:
        assert idp.faults() == []  # no other test's fault in this IdP
        assert (await add_note(mcp_client, "alice"))["author"] == "alice"
        return
    idp.fault("token", "status", status=503, times=None)
    assert [fault["endpoint"] for fault in idp.faults()] == ["token"]
    with pytest.raises(RuntimeError, match="Token exchange with identity provider failed"):
        await add_note(mcp_client, "alice")
