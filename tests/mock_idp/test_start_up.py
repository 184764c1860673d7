"""mock_idp/start_up.py: what ``mock-idp`` does before its first import. Each check runs in a
fresh interpreter (this one has uvicorn, click and a running collector already)."""

from __future__ import annotations

from pathlib import Path

from tests.sandbox.test_startup_imports import modules_after


def test_uvicorn_still_imports_its_command_line_from_its_package_init(tmp_path: Path) -> None:
    # The cost start_up.begin() defers. Once this fails, uvicorn's __init__ no longer imports
    # uvicorn.main and click: delete start_up's uvicorn half (keep the collector's).
    assert {"click", "uvicorn.main"} <= modules_after("import sys\nimport uvicorn.config\n", tmp_path)


SERVER_MODULES = """
import sys
from mock_idp import start_up
start_up.begin()
import uvicorn.config, uvicorn.server, uvicorn.lifespan.off, uvicorn.protocols.http.httptools_impl
from uvicorn import Config, Server
assert Config is uvicorn.config.Config and Server is uvicorn.server.Server
"""


def test_uvicorns_server_loads_without_its_command_line(tmp_path: Path) -> None:
    loaded = modules_after(SERVER_MODULES, tmp_path)
    assert "uvicorn.lifespan.off" in loaded and "click" not in loaded and "uvicorn.main" not in loaded


def test_any_other_name_asked_of_uvicorn_runs_its_init(tmp_path: Path) -> None:
    script = (
        SERVER_MODULES + 'run = uvicorn.run\nassert run is sys.modules["uvicorn.main"].run and uvicorn.__version__\n'
    )
    assert "click" in modules_after(script, tmp_path)


def test_the_collector_is_paused_until_serving_then_skips_start_ups_objects(tmp_path: Path) -> None:
    script = """
import gc, sys
from mock_idp import start_up
start_up.begin()
assert not gc.isenabled() and gc.get_freeze_count() == 0
import mock_idp.serving
start_up.serving()
assert gc.isenabled() and gc.get_freeze_count() > 10_000
start_up.serving()
assert gc.isenabled()
"""
    assert "mock_idp.serving" in modules_after(script, tmp_path)


def test_a_collector_already_off_stays_off(tmp_path: Path) -> None:
    script = """
import gc, sys
gc.disable()
from mock_idp import start_up
start_up.begin()
start_up.serving()
assert not gc.isenabled() and gc.get_freeze_count() == 0
"""
    assert "mock_idp.start_up" in modules_after(script, tmp_path)
