"""The store boundary: per-record persistence, single use across sharers of one backing,
records as values, and upgrades from the whole-document state file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mockidp_support import BASE, OIDC, PROXY, browser, code_tokens

from mock_idp import create_app
from mock_idp.backing.journal import JournalBacking
from mock_idp.backing.memory import MemoryBacking
from mock_idp.clock import Clock
from mock_idp.legacy_state import import_v1
from mock_idp.store import STATE_FILE, AuthorizationCode, Store


def _code(clock: Clock, value: str = "c1") -> AuthorizationCode:
    return AuthorizationCode(
        code=value,
        client_id="app",
        redirect_uri="http://localhost/cb",
        sid="s1",
        username="alice",
        scope="openid",
        nonce=None,
        code_challenge=None,
        code_challenge_method=None,
        expires_at=clock.now() + 60,
    )


def test_a_code_is_redeemed_once_by_whichever_sharer_of_the_backing_comes_first() -> None:
    clock = Clock()
    shared = MemoryBacking(clock)
    one, two = Store(clock, shared), Store(clock, shared)  # two replicas on one backing
    one.add_code(_code(clock))
    first, second = two.take_code("c1"), one.take_code("c1")
    assert first is not None and second is not None
    assert (first[1], second[1]) == (True, False)
    assert first[0].username == "alice" and one.take_code("unknown") is None


def test_records_are_values_a_change_counts_once_handed_back() -> None:
    clock = Clock()
    store = Store(clock, MemoryBacking(clock))
    session = store.start_session("alice")
    clock.advance(30)
    session.last_refresh = clock.now()  # not handed back: nothing stored changed
    assert store.sessions[session.sid].last_refresh == session.started
    store.touch_session(session)
    assert store.sessions[session.sid].last_refresh == session.last_refresh


def test_expired_records_go_by_the_idps_clock() -> None:
    clock = Clock()
    store = Store(clock, MemoryBacking(clock))
    store.revoke("jti-1", clock.now() + 10)
    assert store.is_revoked("jti-1")
    clock.advance(11)
    assert not store.is_revoked("jti-1")


def _lines(state_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (state_dir / STATE_FILE).read_text().splitlines()]


async def test_each_change_appends_a_line_and_client_credentials_write_nothing(realm_dict, state_dir) -> None:
    realm_dict["clients"] = [
        {**client, "serviceAccountsEnabled": True} if client["clientId"] == PROXY[0] else client
        for client in realm_dict["clients"]
    ]
    app = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    path = state_dir / STATE_FILE
    async with browser(app) as http:
        service = await http.post(f"{OIDC}/token", auth=PROXY, data={"grant_type": "client_credentials"})
        assert service.status_code == 200, service.text
        assert not path.exists()  # a fresh state directory, no session: nothing to keep, not even a header
        await code_tokens(http)
        assert _lines(state_dir)[0] == {"version": 2}  # the first change wrote the header before it
        inode, before = path.stat().st_ino, len(_lines(state_dir))
        await code_tokens(http)
    changes = _lines(state_dir)[before:]
    assert path.stat().st_ino == inode, "the file was rewritten, not appended to"
    assert {change["c"] for change in changes} == {"sessions", "client_sessions"}


async def test_a_torn_last_line_is_ignored_and_what_came_before_is_kept(realm_dict, state_dir, caplog) -> None:
    app = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    async with browser(app) as http:
        tokens = await code_tokens(http)
    with (state_dir / STATE_FILE).open("a") as handle:
        handle.write('{"c":"sessions","k":"torn","v":{"si')  # a kill inside an append
    with caplog.at_level("WARNING", logger="mock_idp"):
        restarted = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
    async with browser(restarted) as http:
        info = await http.get(f"{OIDC}/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200, info.text


def test_a_state_file_of_the_whole_document_format_is_imported(realm_dict, state_dir) -> None:
    state_dir.mkdir(parents=True)
    registered = {
        "client": {"clientId": "dcr-1", "publicClient": True, "redirectUris": ["http://localhost:5000/cb"]},
        "registration_access_token": "rat",
        "metadata": {"client_id": "dcr-1"},
    }
    session = {"sid": "s1", "username": "alice", "started": 1.0, "last_refresh": 1.0, "auth_time": 1}
    legacy = {
        "version": 1,
        "sessions": {"s1": session},
        "client_sessions": {},
        "revoked": {},
        "registered_clients": {"dcr-1": registered},
        "consents": {"alice": ["dcr-1"]},
        "lifetimes": {"access_token": 42},
    }
    (state_dir / STATE_FILE).write_text(json.dumps(legacy))
    idp = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir).state.idp
    client = idp.find_client("dcr-1")
    assert client is not None and client.public and client.redirect_uris == ["http://localhost:5000/cb"]
    assert idp.store.has_consent("alice", "dcr-1") and idp.access_token_lifespan == 42
    assert idp.store.sessions["s1"].username == "alice"
    assert _lines(state_dir)[0] == {"version": 2}


def test_the_file_is_compacted_on_open(realm_dict, state_dir) -> None:
    idp = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir).state.idp
    for seconds in range(1, 51):
        idp.set_lifetimes(access_token=seconds)
    assert len(_lines(state_dir)) >= 51
    again = create_app(realm_dict, issuer_base=BASE, state_dir=state_dir).state.idp
    assert again.access_token_lifespan == 50
    assert [line.get("c") for line in _lines(state_dir)] == [None, "settings"]


def test_a_long_journal_is_compacted_while_running(tmp_path: Path) -> None:
    clock = Clock()
    journal = JournalBacking(tmp_path / STATE_FILE, clock, import_v1)
    for count in range(1200):  # one live record, rewritten over and over
        journal.put("settings", "lifetimes", {"access_token": count + 1})
    lines = (tmp_path / STATE_FILE).read_text().splitlines()
    assert len(lines) < 300, len(lines)
    reopened = JournalBacking(tmp_path / STATE_FILE, clock, import_v1)
    assert reopened.get("settings", "lifetimes") == {"access_token": 1200}


def test_a_bad_line_inside_the_journal_is_skipped_with_a_warning(tmp_path: Path, caplog) -> None:
    clock, path = Clock(), tmp_path / STATE_FILE
    journal = JournalBacking(path, clock, import_v1)
    journal.put("consents", "alice", {"clients": ["a"]})
    with path.open("a") as handle:
        handle.write("not json\n")
    journal.put("consents", "bob", {"clients": ["b"]})
    with caplog.at_level("WARNING", logger="mock_idp"):
        reopened = JournalBacking(path, clock, import_v1)
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"state file {path}: skipped line 3 (Expecting value: line 1 column 1 (char 0))"
    ]
    assert reopened.keys("consents") == ["alice", "bob"]


def test_a_journal_from_a_newer_mock_idp_says_so_and_is_kept(tmp_path: Path, caplog) -> None:
    """It was reported as "corrupt (unexpected format or version)"; it is still moved aside, never lost."""
    path = tmp_path / STATE_FILE
    path.write_text('{"version": 3}\n{"c": "consents", "k": "alice", "v": {}, "x": null}\n')
    with caplog.at_level("WARNING", logger="mock_idp"):
        journal = JournalBacking(path, Clock(), import_v1)
    assert journal.keys("consents") == []
    (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert "written by a newer mock IdP (format 3; this one reads up to 2)" in warning
    journal.close()
    assert any(kept.read_text().startswith('{"version": 3}') for kept in tmp_path.glob(f"{STATE_FILE}.*"))
