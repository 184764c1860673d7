"""The embedded mock IdP on a shared store (replicas): an unusable one is one BackendError line."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandbox.backends import BackendError
from sandbox.backends.mock import MockBackend
from sandbox.served_realm import read_realm
from sandbox.settings import DEFAULT_REALM_FILE


def test_an_unreachable_shared_store_is_one_backend_error_line(tmp_path: Path) -> None:
    realm = read_realm(DEFAULT_REALM_FILE, "http://localhost:8123")
    with pytest.raises(BackendError) as error:
        MockBackend(realm, base_url="http://localhost:8123", state_dir=tmp_path, store=f"unix://{tmp_path}/no.sock")
    assert str(error.value).startswith("the mock IdP's store is unreachable: Redis at unix://")
    assert "\n" not in str(error.value)
