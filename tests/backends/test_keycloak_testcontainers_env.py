from unittest import mock

import docker.errors
import pytest
from testcontainers.core.config import ConnectionMode, testcontainers_config

from sandbox.backends.keycloak import testcontainers_env
from sandbox.backends.keycloak.testcontainers_env import launcher_settings, ryuk_image_obtainable


@pytest.fixture
def clean_config(monkeypatch: pytest.MonkeyPatch):
    """testcontainers' global settings as a user who set nothing has them; put back afterwards."""
    monkeypatch.delenv("TESTCONTAINERS_CONNECTION_MODE", raising=False)
    monkeypatch.delenv("TESTCONTAINERS_RYUK_DISABLED", raising=False)
    monkeypatch.delenv("TC_MAX_TRIES", raising=False)
    monkeypatch.setattr(testcontainers_config, "max_tries", 120)
    monkeypatch.setattr(testcontainers_config, "sleep_time", 1.0)
    monkeypatch.setattr(testcontainers_config, "connection_mode_override", None)
    monkeypatch.setattr(testcontainers_config, "_ryuk_disabled", None)
    monkeypatch.setattr(testcontainers_config, "tc_properties", {})
    return testcontainers_config


def test_inside_a_container_the_published_ports_mode_is_used_and_then_undone(clean_config, monkeypatch) -> None:
    monkeypatch.setattr(testcontainers_env, "_ryuk_available", lambda image: True)
    with launcher_settings(print, 180):
        assert clean_config.connection_mode_override is ConnectionMode.docker_host
        assert clean_config.ryuk_disabled is False
    assert clean_config.connection_mode_override is None


def test_the_users_connection_mode_wins(clean_config, monkeypatch) -> None:
    monkeypatch.setattr(testcontainers_env, "_ryuk_available", lambda image: True)
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "gateway_ip")
    clean_config.connection_mode_override = ConnectionMode.gateway_ip
    with launcher_settings(print, 180):
        assert clean_config.connection_mode_override is ConnectionMode.gateway_ip


def test_without_ryuks_image_ryuk_is_off_for_the_start_and_says_so(clean_config, monkeypatch) -> None:
    monkeypatch.setattr(testcontainers_env, "_ryuk_available", lambda image: False)
    said: list[str] = []
    with launcher_settings(said.append, 180):
        assert clean_config.ryuk_disabled is True
    assert said == [
        f"boot: Ryuk ({clean_config.ryuk_image}) is not available here; the launcher removes its container itself"
    ]
    assert clean_config._ryuk_disabled is None


@pytest.mark.parametrize("chosen", ["variable", "properties"])
def test_the_users_ryuk_choice_wins(clean_config, monkeypatch, chosen: str) -> None:
    monkeypatch.setattr(testcontainers_env, "_ryuk_available", lambda image: False)
    if chosen == "variable":
        monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "false")
    else:
        clean_config.tc_properties = {"ryuk.disabled": "false"}
    said: list[str] = []
    with launcher_settings(said.append, 180):
        assert clean_config.ryuk_disabled is False
    assert said == []


def test_ryuks_image_is_local_pullable_or_not() -> None:
    local = mock.Mock()
    assert ryuk_image_obtainable(local, "ryuk:1")
    local.images.pull.assert_not_called()

    pullable = mock.Mock()
    pullable.images.get.side_effect = docker.errors.ImageNotFound("no")
    assert ryuk_image_obtainable(pullable, "ryuk:1")
    pullable.images.pull.assert_called_once_with("ryuk:1")

    offline = mock.Mock()
    offline.images.get.side_effect = docker.errors.ImageNotFound("no")
    offline.images.pull.side_effect = docker.errors.APIError("no such host registry-1.docker.io")
    assert not ryuk_image_obtainable(offline, "ryuk:1")


def test_the_launchers_ready_timeout_governs_testcontainers_wait(clean_config, monkeypatch) -> None:
    monkeypatch.setattr(testcontainers_env, "_ryuk_available", lambda image: True)
    with launcher_settings(print, 300):
        assert clean_config.timeout == 300
    assert clean_config.max_tries == 120
    monkeypatch.setenv("TC_MAX_TRIES", "10")
    with launcher_settings(print, 300):
        assert clean_config.max_tries == 120  # the user's (read at import) stays
