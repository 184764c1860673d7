"""``mock-idp`` answers its first discovery and JWKS requests without pydantic, Starlette or its
endpoints (issue 17).

pydantic's import and model classes were about a third of the standalone mock's cold start;
the realm is read by mock_idp/json_model.py, and the pydantic bodies (x-mock controls, faults,
DCR) and record validators are imported at their first use. Each check runs the command's own
``main`` in a fresh interpreter (this test process has pydantic loaded already), serving one
discovery request through the app; arming a fault there must load pydantic, and a token
request the app, so each check can tell loaded from not loaded. Starlette and the endpoints
were ~0.25 of the CPU from spawn to the first discovery 200 (mock_idp/serving.py's lazy_standalone).
"""

from __future__ import annotations

from pathlib import Path

from tests.sandbox.test_startup_imports import modules_after

# mock-idp with its defaults (the sandbox's realm, the file store), serving REQUESTS through its
# standalone app instead of a socket (discovery and the JWKS unless set); ARM_FAULT is prepended
# to arm a fault after them.
RUN_MOCK_IDP = """
import asyncio, sys
from mock_idp import __main__ as cli
from mock_idp import serving

REALM = "/realms/sandbox"
DOCUMENTS = [("GET", REALM + "/.well-known/openid-configuration", 200), ("GET", REALM + "/protocol/openid-connect/certs", 200)]

async def answer(app, method, path):
    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"localhost")], "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    await app(scope, receive, send)
    return sent[0]["status"]

def serve(realms, sock):
    app = serving.lazy_standalone(realms)
    serving.config(app).load()  # uvicorn's protocols, as serving loads them
    for method, path, status in globals().get("REQUESTS", DOCUMENTS):
        assert asyncio.run(answer(app, method, path)) == status, (method, path)
    if globals().get("ARM_FAULT"):
        realms.idp.add_fault("token", "status", status=503)
    sock.close()

serving.serve = serve
assert cli.main(["--port", "0", "--state-dir", sys.argv[1]]) == 0
"""
# The token endpoint, answering a POST without a body (its 400, from the app built for it).
TOKEN = 'REQUESTS = [("POST", "/realms/sandbox/protocol/openid-connect/token", 400)]\n'


def test_mock_idp_serves_discovery_and_the_jwks_without_pydantic_starlette_or_its_endpoints(tmp_path: Path) -> None:
    loaded = modules_after(RUN_MOCK_IDP, tmp_path)
    assert "mock_idp.realms" in loaded  # the realms were opened and served in that interpreter
    assert sorted(name for name in loaded if name.split(".")[0] in ("pydantic", "pydantic_core")) == []
    # Starlette's package and its types module only (both cost nothing); none of the app.
    assert sorted(name for name in loaded if name.startswith("starlette.")) == ["starlette.types"]
    assert sorted(name for name in loaded if name == "mock_idp.app" or name.startswith("mock_idp.endpoints")) == []


def test_the_first_other_request_builds_the_app(tmp_path: Path) -> None:
    loaded = modules_after(TOKEN + RUN_MOCK_IDP, tmp_path)
    assert {"mock_idp.app", "mock_idp.endpoints.token", "starlette.applications"} <= loaded


def test_arming_a_fault_loads_pydantic(tmp_path: Path) -> None:
    assert "pydantic" in modules_after("ARM_FAULT = True\n" + RUN_MOCK_IDP, tmp_path)
