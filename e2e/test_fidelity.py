"""The differential suite: every case of ``fidelity.cases`` against the mock, compared with Keycloak 26.7.3.

``pytest e2e`` (``make test``) compares the mock with Keycloak's recorded answers
(``fidelity/recorded/``), no JVM needed. ``pytest e2e --sandbox-backend keycloak`` (``make
test-keycloak``) sends each case to the real Keycloak and to a mock of its own, compares
them, and checks that the recording still matches the live Keycloak; with
``--fidelity-record`` it rewrites the recording instead. Differences the mock keeps on
purpose, or still has, are listed in ``fidelity/intended.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fidelity.cases import CASES
from fidelity.compare import differences, load_recording, report, save_recording, unexplained
from fidelity.target import Target

from sandbox.backends.keycloak.base import KEYCLOAK_VERSION
from sandbox.testing.options import sandbox_backend
from sandbox.testing.server import IsolatedSettings, free_port, running_sandbox
from sandbox.testing.stack import plugin_sandbox


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case_name" in metafunc.fixturenames:
        metafunc.parametrize("case_name", sorted(CASES))


@pytest.fixture(scope="session")
def live(request: pytest.FixtureRequest) -> bool:
    return sandbox_backend(request.config) == "keycloak" or bool(request.config.getoption("--fidelity-keycloak-url"))


@pytest.fixture(scope="session")
def keycloak_target(request: pytest.FixtureRequest, live: bool) -> Iterator[Target | None]:
    given = request.config.getoption("--fidelity-keycloak-url")
    if given:  # a Keycloak of your own, already running with the realm imported
        yield Target(
            "keycloak", f"{given.rstrip('/')}/realms/sandbox", request.config.getoption("--fidelity-sandbox-url")
        )
    elif live:
        running = plugin_sandbox(request)
        yield Target("keycloak", running.sandbox.upstream.realm_url, running.base_url)
    else:
        yield None


@pytest.fixture(scope="session")
def mock_target(
    request: pytest.FixtureRequest, live: bool, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    if not live:
        running = plugin_sandbox(request)
        yield Target("mock", running.sandbox.upstream.realm_url, running.base_url)
        return
    settings = IsolatedSettings(backend="mock", port=free_port(), state_dir=tmp_path_factory.mktemp("fidelity-mock"))
    with running_sandbox(settings) as running:
        yield Target("mock", running.sandbox.upstream.realm_url, running.base_url)


@pytest.fixture(scope="session")
def recording(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Keycloak's recorded observations; with ``--fidelity-record``, the ones this run collects."""
    if not request.config.getoption("--fidelity-record"):
        yield load_recording(KEYCLOAK_VERSION)
        return
    try:
        collected = load_recording(KEYCLOAK_VERSION)  # a -k run re-records only what it ran
    except FileNotFoundError:
        collected = {}
    yield collected
    save_recording(KEYCLOAK_VERSION, {name: observed for name, observed in collected.items() if name in CASES})


async def test_mock_answers_as_keycloak_does(
    case_name: str,
    request: pytest.FixtureRequest,
    keycloak_target: Target | None,
    mock_target: Target,
    recording: dict[str, Any],
) -> None:
    run = CASES[case_name]
    if keycloak_target is not None:
        expected = await run(keycloak_target)
        if request.config.getoption("--fidelity-record"):
            recording[case_name] = expected
        else:
            stale = differences(recording.get(case_name), expected)
            assert not stale, (
                f"{case_name}: Keycloak {KEYCLOAK_VERSION} no longer answers as recorded "
                f"(re-record: pytest e2e/test_fidelity.py --sandbox-backend keycloak --fidelity-record): {stale}"
            )
    else:
        assert case_name in recording, (
            f"{case_name}: no recorded answer; record with --sandbox-backend keycloak --fidelity-record"
        )
        expected = recording[case_name]
    left, stale_entries = unexplained(case_name, differences(expected, await run(mock_target)))
    assert not left and not stale_entries, report(case_name, left, stale_entries)
