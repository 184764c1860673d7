"""Fixtures: the sandbox realm served in-process over httpx's ASGI transport."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from mockidp_support import BASE, REALM_PATH, browser

from mock_idp import create_app


@pytest.fixture
def realm_dict() -> dict[str, Any]:
    return copy.deepcopy(json.loads(REALM_PATH.read_text()))


@pytest.fixture
def still_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The mock IdP's time stands still (``advance_clock`` still moves it).

    As in Keycloak, ``refresh_expires_in`` counts from the login, not from the token: a login
    and a code exchange either side of a second boundary read 1 s less (seen under load)."""
    now = time.time()
    monkeypatch.setattr("mock_idp.clock.time", SimpleNamespace(time=lambda: now))


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def app(realm_dict: dict[str, Any], state_dir: Path):
    return create_app(realm_dict, issuer_base=BASE, state_dir=state_dir)


@pytest.fixture
def idp(app):
    return app.state.idp


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(app, client=("127.0.0.1", 50000)) as http:
        yield http
