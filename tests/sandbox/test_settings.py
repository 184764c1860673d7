"""Settings read from flags and SANDBOX_* variables."""

import pytest
from pydantic import ValidationError

from sandbox.settings import SandboxSettings


@pytest.fixture(autouse=True)
def no_sandbox_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in [name for name in os.environ if name.startswith("SANDBOX_")]:
        monkeypatch.delenv(name)


def test_log_level_is_read_in_any_case(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    assert SandboxSettings(log_level="DEBUG", state_dir=tmp_path).log_level == "debug"
    monkeypatch.setenv("SANDBOX_LOG_LEVEL", "Warning")
    assert SandboxSettings(state_dir=tmp_path).log_level == "warning"


def test_an_unknown_log_level_is_still_refused(tmp_path) -> None:
    with pytest.raises(ValidationError, match="log_level"):
        SandboxSettings(log_level="LOUD", state_dir=tmp_path)


def test_keycloak_settings_given_to_the_mock_backend_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("SANDBOX_KEYCLOAK_PORT", "8181")
    mock = SandboxSettings(keycloak_url="http://localhost:8080", state_dir=tmp_path)
    assert mock.ignored_keycloak_settings() == ["keycloak_port", "keycloak_url"]
    assert SandboxSettings(state_dir=tmp_path).ignored_keycloak_settings() == ["keycloak_port"]
    monkeypatch.delenv("SANDBOX_KEYCLOAK_PORT")
    assert SandboxSettings(state_dir=tmp_path).ignored_keycloak_settings() == []
    keycloak = SandboxSettings(backend="keycloak", keycloak_url="http://localhost:8080", state_dir=tmp_path)
    assert keycloak.ignored_keycloak_settings() == []


def test_the_keycloak_network_reaches_the_launcher(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from sandbox.backends.keycloak import backend as keycloak_backend
    from sandbox.cli import parse_args
    from sandbox.served_realm import read_realm

    assert parse_args(["--keycloak-network", "host"])["keycloak_network"] == "host"
    monkeypatch.setenv("SANDBOX_KEYCLOAK_NETWORK", "host")
    settings = SandboxSettings(backend="keycloak", state_dir=tmp_path)
    asked: dict[str, object] = {}

    def choose_launcher(realm_file, **kwargs):
        asked.update(kwargs)
        raise keycloak_backend.KeycloakStartError("stop here")

    monkeypatch.setattr(keycloak_backend, "choose_launcher", choose_launcher)
    backend = keycloak_backend.KeycloakBackend(settings, read_realm(settings.realm_file, settings.base_url), tmp_path)
    with pytest.raises(keycloak_backend.BackendError, match="stop here"):
        backend.start()
    assert asked["network"] == "host"
    with pytest.raises(ValidationError, match="keycloak_network"):
        SandboxSettings(keycloak_network="", state_dir=tmp_path)


def test_the_listen_address_is_an_ip_address(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    assert SandboxSettings(state_dir=tmp_path).listen_address == "127.0.0.1"
    monkeypatch.setenv("SANDBOX_LISTEN_ADDRESS", "0.0.0.0")
    settings = SandboxSettings(state_dir=tmp_path)
    # Where it binds changes; what it calls itself does not.
    assert (settings.listen_address, settings.base_url) == ("0.0.0.0", "http://localhost:8000")
    with pytest.raises(ValidationError, match="listen_address"):
        SandboxSettings(listen_address="example.com", state_dir=tmp_path)
