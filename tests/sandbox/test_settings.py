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
