"""An app built at its first request: built once, and a failing build is the JSON 500, logged once."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from mock_idp.deferred import Deferred
from mock_idp.errors import SERVER_ERROR


def client(app: Deferred) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def test_the_app_is_built_once_at_the_first_request():
    builds: list[int] = []

    def build() -> Starlette:
        builds.append(1)
        return Starlette(routes=[Route("/", lambda request: PlainTextResponse("built"))])

    deferred = Deferred(build)
    assert builds == []
    async with client(deferred) as http:
        assert [(await http.get("/")).text for _ in range(3)] == ["built"] * 3
    assert builds == [1]


async def test_a_failing_build_is_the_json_500_logged_once_and_not_retried(caplog: pytest.LogCaptureFixture):
    builds: list[int] = []

    def build() -> Starlette:
        builds.append(1)
        raise RuntimeError("broken install")

    async with client(Deferred(build)) as http:
        with caplog.at_level(logging.ERROR, logger="mock_idp.deferred"):
            answers = [await http.post("/token") for _ in range(2)]
    assert [(a.status_code, a.headers["content-type"], a.json()) for a in answers] == [
        (500, "application/json", SERVER_ERROR)
    ] * 2
    assert builds == [1]
    assert [r.exc_info[1].args for r in caplog.records if r.exc_info] == [("broken install",)]
