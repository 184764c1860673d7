"""The same server, signed in through a real Chromium (the ``browser_login`` fixture needs Playwright)."""

import pytest

pytestmark = [pytest.mark.asyncio, pytest.mark.browser]


async def test_alice_signs_in_through_the_consent_and_login_pages(browser_login):
    async with browser_login.client("alice") as client:
        note = (await client.call_tool("add_note", {"text": "from Chromium"})).data
    assert note["author"] == "alice"
    assert browser_login.pages == ["consent", "login"]


async def test_a_wrong_password_shows_the_login_error(browser_login):
    client = browser_login.client("alice", password="wrong")
    with pytest.raises(Exception, match="login as 'alice' was refused: Invalid username or password"):
        async with client:
            pass


@pytest.mark.mock_only
async def test_an_upstream_outage_ends_on_the_proxys_error_page(browser_login, idp):
    idp.fault("token", "status", status=503)
    with pytest.raises(
        Exception,
        match=r"the proxy showed an error page at .*/auth/callback: Token exchange with identity provider failed",
    ):
        async with browser_login.client("alice"):
            pass
