"""The guards in front of FastMCP's /register and /revoke, on a bare app that echoes what it got."""

from __future__ import annotations

import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.proxy_routes import MAX_REGISTRATION_BYTES, MAX_REVOCATION_BYTES, guard_routes


async def echo(request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"body": body.decode(), "length": request.headers.get("content-length")})


def client() -> httpx.AsyncClient:
    routes = guard_routes(
        [
            Route("/register", echo, methods=["POST"]),
            Route("/revoke", echo, methods=["POST"]),
            Route("/token", echo, methods=["POST"]),
        ]
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=Starlette(routes=routes)), base_url="http://localhost:8111"
    )


async def test_revocation_without_a_secret_reaches_the_handler_with_an_empty_one():
    async with client() as http:
        response = await http.post("/revoke", data={"token": "t", "client_id": "c"})
    echoed = response.json()
    assert echoed["body"] == "token=t&client_id=c&client_secret="
    assert echoed["length"] == str(len(echoed["body"]))


async def test_revocation_with_a_secret_is_passed_on_untouched():
    async with client() as http:
        response = await http.post("/revoke", data={"token": "t", "client_id": "c", "client_secret": "s"})
    assert response.json()["body"] == "token=t&client_id=c&client_secret=s"


async def test_oversized_revocation_is_a_400():
    async with client() as http:
        response = await http.post("/revoke", data={"token": "t" * (MAX_REVOCATION_BYTES + 1), "client_id": "c"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


async def test_registration_within_the_limits_is_passed_on_byte_for_byte():
    body = json.dumps({"redirect_uris": ["http://127.0.0.1:1/cb"], "client_name": "é"})
    async with client() as http:
        response = await http.post("/register", content=body.encode(), headers={"Content-Type": "application/json"})
    assert response.json()["body"] == body


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"redirect_uris": "http://127.0.0.1:1/cb#x"}'])
async def test_registration_the_guard_cannot_read_is_left_to_the_sdk(body):
    async with client() as http:
        response = await http.post("/register", content=body)
    assert response.json()["body"] == body.decode()


async def test_oversized_registration_is_an_rfc7591_error():
    async with client() as http:
        response = await http.post("/register", content=b" " * (MAX_REGISTRATION_BYTES + 1))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"
    assert response.headers["cache-control"] == "no-store"


async def test_other_routes_are_not_guarded():
    async with client() as http:
        response = await http.post("/token", content=b"x" * (MAX_REGISTRATION_BYTES + 1))
    assert response.status_code == 200
