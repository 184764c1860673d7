"""Wait until Keycloak serves the realm: health first, then the realm's own discovery document."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from sandbox.backends import discovery_url

POLL_INTERVAL = 0.5


class NotReady(Exception):
    """The realm did not come up in time; the message says what was last seen."""


class ExitedEarly(Exception):
    def __init__(self, exit_code: int) -> None:
        super().__init__(f"exited early with code {exit_code}")
        self.exit_code = exit_code


def check_realm(client: httpx.Client, health_url: str | None, realm_url: str) -> str | None:
    """None when ready, else a short description of what is not ready yet."""
    urls = [url for url in (health_url, discovery_url(realm_url)) if url is not None]
    for url in urls:
        try:
            response = client.get(url)
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__} on {url}"
        if response.status_code != 200:
            return f"{url} answered {response.status_code}"
    try:
        issuer = response.json().get("issuer")
    except ValueError:
        return f"{discovery_url(realm_url)} did not answer JSON"
    if issuer != realm_url:
        # The hostname must be pinned, or tokens would name a different issuer than clients expect.
        return f"issuer is {issuer!r}, expected {realm_url!r}"
    return None


def wait_until_ready(
    realm_url: str,
    *,
    health_url: str | None,
    timeout: float,
    exit_code: Callable[[], int | None] = lambda: None,
    on_poll: Callable[[], None] = lambda: None,
    client: httpx.Client | None = None,
) -> None:
    """Poll until the realm is served; raise ExitedEarly if the process dies, NotReady after timeout."""
    deadline = time.monotonic() + timeout
    owned = client is None
    client = client or httpx.Client(timeout=5.0)
    try:
        last = "no answer yet"
        while True:
            on_poll()
            code = exit_code()
            if code is not None:
                raise ExitedEarly(code)
            status = check_realm(client, health_url, realm_url)
            if status is None:
                return
            last = status
            if time.monotonic() >= deadline:
                raise NotReady(f"not ready within {timeout:.0f}s (last: {last})")
            time.sleep(POLL_INTERVAL)
    finally:
        if owned:
            client.close()
