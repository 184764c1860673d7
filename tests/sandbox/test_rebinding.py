"""The Host/Origin guard on a bare app: what it lets through and what it refuses."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from sandbox.rebinding import RebindingGuard

PORT = 8111


def guarded() -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("served"), methods=["GET", "POST"])])
    transport = httpx.ASGITransport(app=RebindingGuard(app, port=PORT))
    return httpx.AsyncClient(transport=transport, base_url=f"http://localhost:{PORT}")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Host": f"127.0.0.1:{PORT}"},
        {"Host": f"LOCALHOST:{PORT}", "Origin": f"http://localhost:{PORT}/"},
        {"Origin": f"http://127.0.0.1:{PORT}"},
    ],
)
async def test_the_sandbox_own_names_are_served(headers):
    async with guarded() as http:
        response = await http.get("/", headers=headers)
    assert (response.status_code, response.text) == (200, "served")


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "evil.example"}, 421),
        ({"Host": f"evil.example:{PORT}"}, 421),
        ({"Host": "localhost"}, 421),  # no port: not the sandbox's origin
        ({"Host": f"[::1]:{PORT}"}, 421),
        ({"Origin": "http://evil.example"}, 403),
        ({"Origin": f"https://localhost:{PORT}"}, 403),
        ({"Origin": "null"}, 403),
    ],
)
async def test_foreign_names_are_refused_with_a_json_reason(headers, status):
    async with guarded() as http:
        response = await http.post("/", headers=headers)
    assert response.status_code == status
    assert response.json()["error"] in ("misdirected_request", "forbidden_origin")


async def test_a_second_origin_header_cannot_smuggle_a_foreign_origin():
    async with guarded() as http:
        response = await http.get(
            "/", headers=[("Origin", f"http://localhost:{PORT}"), ("Origin", "http://evil.example")]
        )
    assert response.status_code == 403


PUBLIC_URL = "http://localhost:8112"


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Host": "localhost:8112", "Origin": PUBLIC_URL}, 200),  # through the load balancer
        ({"Host": f"localhost:{PORT}"}, 200),  # this replica, directly
        ({"Host": "127.0.0.1:8112"}, 421),  # the public URL names one host only
        ({"Host": "localhost:8112", "Origin": "http://localhost:8113"}, 403),
    ],
)
async def test_a_replica_also_answers_to_its_public_url(headers, status):
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("served"))])
    transport = httpx.ASGITransport(app=RebindingGuard(app, port=PORT, public_url=PUBLIC_URL))
    async with httpx.AsyncClient(transport=transport, base_url=f"http://localhost:{PORT}") as http:
        response = await http.get("/", headers=headers)
    assert response.status_code == status


@pytest.mark.parametrize("second", ["evil.example", f"localhost:{PORT}"])
async def test_a_second_host_header_is_a_bad_request(second):
    async with guarded() as http:
        response = await http.get("/", headers=[("Host", f"localhost:{PORT}"), ("Host", second)])
    assert response.status_code == 400
    assert response.json() == {"error": "invalid_request", "error_description": "more than one Host header"}
