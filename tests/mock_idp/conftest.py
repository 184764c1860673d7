"""Fixtures: the sandbox realm served in-process over httpx's ASGI transport."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mockidp_support import BASE, REALM_PATH, browser

from mock_idp import create_app


@pytest.fixture
def realm_dict() -> dict[str, Any]:
    return copy.deepcopy(json.loads(REALM_PATH.read_text()))


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
