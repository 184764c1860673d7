import json
from pathlib import Path

import pytest

from sandbox.realm import REALM_FILE_BASE_URL, RealmFileError, read_realm, upstream_client
from sandbox.settings import DEFAULT_REALM_FILE


def test_default_realm_is_read_unchanged_for_the_default_address():
    realm = read_realm(DEFAULT_REALM_FILE)
    assert realm == json.loads(DEFAULT_REALM_FILE.read_text())


def test_other_port_rewrites_every_url_of_the_default_address():
    realm = read_realm(DEFAULT_REALM_FILE, "http://localhost:8123")
    text = json.dumps(realm)
    assert REALM_FILE_BASE_URL not in text
    proxy = next(c for c in realm["clients"] if c["clientId"] == "sandbox-proxy")
    assert proxy["redirectUris"] == ["http://localhost:8123/auth/callback"]
    assert "http://localhost:8123/mcp" in text


def test_upstream_client_comes_from_the_file():
    realm = read_realm(DEFAULT_REALM_FILE)
    client = upstream_client(realm, "sandbox-proxy", DEFAULT_REALM_FILE)
    declared = next(c for c in realm["clients"] if c["clientId"] == "sandbox-proxy")
    assert client.client_secret == declared["secret"]


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "realm file not found"),
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "expected a JSON object at $"),
    ],
)
def test_unusable_files_fail_with_one_line_naming_the_file(tmp_path: Path, content, message):
    path = tmp_path / "realm.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(RealmFileError) as error:
        read_realm(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_public_or_missing_upstream_client_is_refused(tmp_path: Path):
    realm = {"realm": "x", "clients": [{"clientId": "sandbox-proxy", "publicClient": True}]}
    with pytest.raises(RealmFileError, match="must be confidential"):
        upstream_client(realm, "sandbox-proxy", tmp_path)
    with pytest.raises(RealmFileError, match="no client with clientId 'nope'"):
        upstream_client(realm, "nope", tmp_path)
