"""State directory: the key and sessions survive a restart; corrupt files are moved aside."""

from __future__ import annotations

import stat
import subprocess
import sys

import httpx
from mockidp_support import BASE, OIDC, PROXY, REALM_PATH, auth_params, browser, code_tokens

from mock_idp import create_app
from mock_idp.cookies import KEY_FILE as COOKIE_KEY_FILE
from mock_idp.keys import KEY_FILE


def _client(app) -> httpx.AsyncClient:
    return browser(app, BASE)


async def test_restart_keeps_tokens_valid_and_refresh_working(realm_dict, state_dir):
    first = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    async with _client(first) as http:
        tokens = await code_tokens(http)
    assert stat.S_IMODE((state_dir / KEY_FILE).stat().st_mode) == 0o600
    restarted = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    assert restarted.state.idp.keys.kid == first.state.idp.keys.kid
    async with _client(restarted) as http:
        intro = await http.post(f"{OIDC}/token/introspect", auth=PROXY, data={"token": tokens["id_token"]})
        assert intro.json()["active"] is True
        info = await http.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert info.status_code == 200
        refreshed = await http.post(
            f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200, refreshed.text
    # The rotation bookkeeping was persisted too: the old refresh token stays spent.
    again = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    async with _client(again) as http:
        reuse = await http.post(
            f"{OIDC}/token", auth=PROXY, data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        )
        assert reuse.json()["error_description"] == "Maximum allowed refresh token reuse exceeded"


async def test_empty_state_dir_gets_a_fresh_key(realm_dict, tmp_path):
    a = create_app(realm_dict, issuer_base=BASE, state_dir=tmp_path / "a")
    b = create_app(realm_dict, issuer_base=BASE, state_dir=tmp_path / "b")
    assert a.state.idp.keys.kid != b.state.idp.keys.kid


async def test_two_idps_started_at_once_on_a_fresh_state_dir_share_its_one_key(realm_dict, state_dir):
    """The key is generated in the background: a second IdP started before it is on disk must
    not generate another one (and overwrite the first's file)."""
    a = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    b = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    kids = {a.state.idp.keys.kid, b.state.idp.keys.kid}
    restarted = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    assert kids == {restarted.state.idp.keys.kid}


def test_a_process_that_exits_right_after_start_still_leaves_its_key(tmp_path):
    """The key is generated in the background: an exit before it is done waits for it (a
    daemon thread would be killed, leaving no key, or abort the interpreter inside OpenSSL)."""
    script = "import sys; from mock_idp import create_app; create_app(sys.argv[1], issuer_base=sys.argv[2], state_dir=sys.argv[3])"
    done = subprocess.run(
        [sys.executable, "-c", script, str(REALM_PATH), BASE, str(tmp_path)], capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert (tmp_path / KEY_FILE).read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert create_app(REALM_PATH, issuer_base=BASE, state_dir=tmp_path).state.idp.keys.kid


async def test_corrupt_state_file_is_moved_aside_with_one_warning(realm_dict, state_dir, caplog):
    state_dir.mkdir(parents=True)
    (state_dir / "state.json").write_text("{half a file")
    with caplog.at_level("WARNING", logger="mock_idp"):
        app = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "state.json" in warnings[0] and "corrupt" in warnings[0]
    kept = list(state_dir.glob("state.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text() == "{half a file"
    async with _client(app) as http:
        assert (await code_tokens(http))["access_token"]
    assert (state_dir / "state.json").exists()


async def test_corrupt_key_is_kept_and_replaced(realm_dict, state_dir):
    state_dir.mkdir(parents=True)
    (state_dir / KEY_FILE).write_text("not a key")
    app = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    assert app.state.idp.keys.kid
    assert [p.read_text() for p in state_dir.glob(f"{KEY_FILE}.corrupt-*")] == ["not a key"]


async def test_cookie_keys_are_private_and_a_corrupt_file_is_kept_and_replaced(realm_dict, state_dir):
    create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    assert stat.S_IMODE((state_dir / COOKIE_KEY_FILE).stat().st_mode) == 0o600
    (state_dir / COOKIE_KEY_FILE).write_text('{"hs512": "c2hvcnQ=", "aes256": "c2hvcnQ="}')  # keys too short
    app = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    async with _client(app) as http:  # the new keys work: a login sets a cookie that signs in
        assert (await code_tokens(http))["access_token"]
        assert "&code=" in (await http.get(f"{OIDC}/auth", params=auth_params(prompt="none"))).headers["location"]
    assert [p.read_text() for p in state_dir.glob(f"{COOKIE_KEY_FILE}.corrupt-*")] == [
        '{"hs512": "c2hvcnQ=", "aes256": "c2hvcnQ="}'
    ]


async def test_dcr_clients_survive_restart(realm_dict, state_dir):
    app = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    async with _client(app) as http:
        registered = (
            await http.post(
                "/realms/sandbox/clients-registrations/openid-connect",
                json={"redirect_uris": ["http://localhost:5000/cb"]},
            )
        ).json()
    restarted = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    client = restarted.state.idp.find_client(registered["client_id"])
    assert client is not None and client.secret == registered["client_secret"]
