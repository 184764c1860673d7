"""Which server the sandbox fixtures wrap. In your own project, one of:

    pytest --sandbox-server mypkg.server:mcp
    SANDBOX_SERVER=mypkg.server:mcp pytest
    [tool.pytest.ini_options] sandbox_server = "mypkg.server:mcp"

This directory says it in code (the ``sandbox_server`` fixture), so that running it from
the repository root needs no flag; a ``--sandbox-server`` on the command line still wins.
"""

import pytest


@pytest.fixture(scope="session")
def sandbox_server(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--sandbox-server") or "notes_server.server:mcp"
