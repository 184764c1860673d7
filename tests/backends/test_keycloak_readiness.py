import time

import httpx
import pytest

from sandbox.backends.keycloak.readiness import ExitedEarly, NotReady, check_realm, wait_until_ready

REALM = "http://localhost:8080/realms/sandbox"
HEALTH = "http://localhost:9000/health/ready"


def client_for(health: int = 200, issuer: str = REALM) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health/ready":
            return httpx.Response(health, json={"status": "UP" if health == 200 else "DOWN"})
        if request.url.path == "/realms/sandbox/.well-known/openid-configuration":
            return httpx.Response(200, json={"issuer": issuer})
        return httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(handler))


def test_ready_when_health_and_discovery_answer() -> None:
    assert check_realm(client_for(), HEALTH, REALM) is None
    wait_until_ready(REALM, health_url=HEALTH, timeout=1, client=client_for())


def test_an_issuer_on_another_hostname_is_not_ready() -> None:
    status = check_realm(client_for(issuer="http://127.0.0.1:8080/realms/sandbox"), HEALTH, REALM)
    assert status == f"issuer is 'http://127.0.0.1:8080/realms/sandbox', expected {REALM!r}"


def test_times_out_with_the_last_thing_seen() -> None:
    started = time.monotonic()
    with pytest.raises(
        NotReady, match=r"not ready within 0s \(last: http://localhost:9000/health/ready answered 503\)"
    ):
        wait_until_ready(REALM, health_url=HEALTH, timeout=0.2, client=client_for(health=503))
    assert time.monotonic() - started < 2


def test_a_refused_connection_is_retried_until_the_timeout() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    with pytest.raises(NotReady, match="ConnectError on http://localhost:9000/health/ready"):
        wait_until_ready(REALM, health_url=HEALTH, timeout=0.2, client=client)


def test_a_process_that_exits_stops_the_wait_at_once() -> None:
    exit_codes = iter([None, 1])
    started = time.monotonic()
    with pytest.raises(ExitedEarly, match="code 1"):
        wait_until_ready(
            REALM, health_url=HEALTH, timeout=60, exit_code=lambda: next(exit_codes), client=client_for(health=503)
        )
    assert time.monotonic() - started < 5
