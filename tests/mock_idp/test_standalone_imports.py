"""``mock-idp`` answers its first discovery request without pydantic (issue 17).

pydantic's import and model classes were about a third of the standalone mock's cold start;
the realm is read by mock_idp/json_model.py, and the pydantic bodies (x-mock controls, faults,
DCR) and record validators are imported at their first use. Each check runs the command's own
``main`` in a fresh interpreter (this test process has pydantic loaded already), serving one
discovery request through the app; arming a fault there must load pydantic, so the check can
tell loaded from not loaded.
"""

from __future__ import annotations

from pathlib import Path

from tests.sandbox.test_startup_imports import modules_after

# mock-idp with its defaults (the sandbox's realm, the file store), serving one discovery
# request through the app instead of a socket; ARM_FAULT is prepended to arm a fault after it.
RUN_MOCK_IDP = """
import asyncio, sys
from mock_idp import __main__ as cli
from mock_idp import serving

async def discovery(app):
    path = "/realms/sandbox/.well-known/openid-configuration"
    scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(b"host", b"localhost")], "root_path": "", "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1)}
    sent = []
    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}
    async def send(message):
        sent.append(message)
    await app(scope, receive, send)
    assert sent[0]["status"] == 200, sent

def serve(app, sock):
    serving.config(app).load()  # uvicorn's protocols, as serving loads them
    asyncio.run(discovery(app))
    if globals().get("ARM_FAULT"):
        app.state.idp.add_fault("token", "status", status=503)
    sock.close()

cli.serve = serve
assert cli.main(["--port", "0", "--state-dir", sys.argv[1]]) == 0
"""


def test_mock_idp_serves_discovery_without_pydantic(tmp_path: Path) -> None:
    loaded = modules_after(RUN_MOCK_IDP, tmp_path)
    assert "mock_idp.app" in loaded  # the app was built and served in that interpreter
    assert sorted(name for name in loaded if name.split(".")[0] in ("pydantic", "pydantic_core")) == []


def test_arming_a_fault_loads_pydantic(tmp_path: Path) -> None:
    assert "pydantic" in modules_after("ARM_FAULT = True\n" + RUN_MOCK_IDP, tmp_path)
