import json
from pathlib import Path

import pytest

from mock_idp import RealmError
from sandbox.served_realm import REALM_FILE_BASE_URL, read_realm
from sandbox.settings import DEFAULT_REALM_FILE


def test_default_realm_is_read_unchanged_for_the_default_address():
    realm = read_realm(DEFAULT_REALM_FILE)
    assert realm.data == json.loads(DEFAULT_REALM_FILE.read_text())
    assert realm.model.name == "sandbox"


def test_other_port_rewrites_every_url_of_the_default_address():
    realm = read_realm(DEFAULT_REALM_FILE, "http://localhost:8123")
    assert REALM_FILE_BASE_URL not in json.dumps(realm.data)
    proxy = realm.model.clients["sandbox-proxy"]
    assert proxy.redirect_uris == ["http://localhost:8123/auth/callback"]
    audiences = [m.config.get("included.custom.audience") for m in proxy.protocol_mappers]
    assert "http://localhost:8123/mcp" in audiences


def test_upstream_client_comes_from_the_file():
    realm = read_realm(DEFAULT_REALM_FILE)
    declared = next(c for c in realm.data["clients"] if c["clientId"] == "sandbox-proxy")
    assert realm.upstream_client("sandbox-proxy") == ("sandbox-proxy", declared["secret"])


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read realm file"),
        ("{not json", "invalid JSON at line 1"),
        ("[1, 2]", "$: expected a JSON object"),
        ('{"realm": "x", "users": [{"username": 5}]}', "$.users[0].username"),
    ],
)
def test_unusable_files_fail_with_one_line_naming_the_file(tmp_path: Path, content, message):
    path = tmp_path / "realm.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RealmError) as error:
        read_realm(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_public_or_missing_upstream_client_is_refused(tmp_path: Path):
    path = tmp_path / "realm.json"
    path.write_text(json.dumps({"realm": "x", "clients": [{"clientId": "sandbox-proxy", "publicClient": True}]}))
    realm = read_realm(path)
    with pytest.raises(RealmError, match="must be confidential"):
        realm.upstream_client("sandbox-proxy")
    with pytest.raises(RealmError, match="no client with clientId 'nope'"):
        realm.upstream_client("nope")


def test_realm_for_several_sandboxes_repeats_callbacks_and_audiences():
    from sandbox.served_realm import realm_for_base_urls

    urls = ["http://localhost:9001", "http://localhost:9002"]
    data = realm_for_base_urls(DEFAULT_REALM_FILE, urls)
    assert REALM_FILE_BASE_URL not in json.dumps(data)
    proxy = next(c for c in data["clients"] if c["clientId"] == "sandbox-proxy")
    assert proxy["redirectUris"] == [f"{url}/auth/callback" for url in urls]
    audiences = [m for m in proxy["protocolMappers"] if m["protocolMapper"] == "oidc-audience-mapper"]
    assert [m["config"]["included.custom.audience"] for m in audiences] == [f"{url}/mcp" for url in urls]
    assert len({m["name"] for m in audiences}) == 2
    # Entries that do not name the default address stay single.
    cli = next(c for c in data["clients"] if c["clientId"] == "sandbox-cli")
    assert cli["redirectUris"] == ["http://localhost:*", "http://127.0.0.1:*"]


def test_isolated_settings_ignore_the_developers_environment(monkeypatch, tmp_path):
    from sandbox.settings import SandboxSettings
    from sandbox.testing.server import IsolatedSettings

    monkeypatch.setenv("SANDBOX_HOST", "127.0.0.1")
    monkeypatch.setenv("SANDBOX_MODE", "native-dcr")
    assert SandboxSettings(port=1234, state_dir=tmp_path).host == "127.0.0.1"  # the CLI's settings do read it
    isolated = IsolatedSettings(port=1234, state_dir=tmp_path)
    assert (isolated.host, isolated.mode) == ("localhost", "proxy")
