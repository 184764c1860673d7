"""The mock IdP's own controls (claims, lifetimes, clock, keys, faults) over its ``x-mock`` HTTP API.

Over HTTP, so they work against a standalone mock too (the server side is
``mock_idp/admin/control.py``). A real Keycloak has none of them: each is refused before any
request, in one place (:func:`mock_only`), with one line naming the operation.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from sandbox.idp_control.admin_session import AdminSession
from sandbox.idp_control.errors import IdpControlError, NotSupportedOnKeycloak

F = TypeVar("F", bound=Callable[..., Any])


def mock_only(method: F) -> F:
    """Refuse the control on Keycloak with :class:`NotSupportedOnKeycloak`, before any request."""

    @functools.wraps(method)
    def guarded(self: MockControls, *args: Any, **kwargs: Any) -> Any:
        if self.backend != "mock":
            raise NotSupportedOnKeycloak(method.__name__)
        self.mock_touched = True  # reset() then clears the mock's state
        return method(self, *args, **kwargs)

    return cast(F, guarded)


@dataclass
class Fault:
    """An armed fault at the mock IdP. ``with idp.fault(...):`` removes it on the way out."""

    control: MockControls
    id: str
    endpoint: str
    kind: str
    spec: dict[str, Any] = field(default_factory=dict)

    def remove(self) -> bool:
        """Disarm it; False if it was already gone (a one-shot fault disappears once it fired)."""
        return self.control.remove_fault(self.id)

    @property
    def armed(self) -> bool:
        return any(item["id"] == self.id for item in self.control.faults())

    def __enter__(self) -> Fault:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


class MockControls:
    """The mock-only half of :class:`sandbox.idp_control.IdpControl`."""

    session: AdminSession
    backend: Literal["mock", "keycloak"]
    mock_touched: bool
    on_key_rotation: Callable[[], None] | None

    @mock_only
    def set_claims(self, username: str, **claims: Any) -> dict[str, Any]:
        """Merge these claims into the user's access and ID tokens and userinfo (replacing earlier ones)."""
        path = f"users/{self.session.existing_user_id(username)}/claims"
        merged: dict[str, Any] = self._x("set_claims", "PUT", path, {"claims": claims})["claims"]
        return merged

    @mock_only
    def clear_claims(self, username: str) -> None:
        self._x("clear_claims", "DELETE", f"users/{self.session.existing_user_id(username)}/claims")

    @mock_only
    def claims(self, username: str) -> dict[str, Any]:
        """The extra claims set for the user (``{}`` when none)."""
        found: dict[str, Any] = self._x("claims", "GET", f"users/{self.session.existing_user_id(username)}/claims")[
            "claims"
        ]
        return found

    @mock_only
    def set_lifetimes(
        self, *, access_token: int | None = None, refresh_token: int | None = None, code: int | None = None
    ) -> dict[str, Any]:
        """Token lifespans in seconds at the IdP (None: the realm's); ``refresh_token`` is the session idle timeout."""
        given = {"access_token": access_token, "refresh_token": refresh_token, "code": code}
        return self._x("set_lifetimes", "PUT", "lifetimes", {k: v for k, v in given.items() if v is not None})

    @mock_only
    def lifetimes(self) -> dict[str, Any]:
        """The lifespans in force, and which of them are ``overridden``."""
        return self._x("lifetimes", "GET", "lifetimes")

    @mock_only
    def advance_clock(self, seconds: float) -> float:
        """Move the IdP's clock forward (or back); tokens it issued expire by its clock. Returns the offset."""
        offset: float = self._x("advance_clock", "POST", "clock/advance", {"seconds": seconds})["offset"]
        return offset

    @mock_only
    def clock(self) -> dict[str, Any]:
        """The IdP's clock: its ``offset`` from real time, in seconds, and the time it reads."""
        return self._x("clock", "GET", "clock")

    @mock_only
    def rotate_keys(self, *, keep_old: bool = True, grace_seconds: float = 300) -> str:
        """A new signing key; the old one stays in the JWKS for ``grace_seconds`` (or is dropped). Returns the new kid."""
        body = {"keep_old": keep_old, "grace_seconds": grace_seconds}
        kid: str = self._x("rotate_keys", "POST", "keys/rotate", body)["kid"]
        if self.on_key_rotation is not None:
            self.on_key_rotation()
        return kid

    @mock_only
    def fault(self, endpoint: str, kind: str, *, times: int | None = 1, **spec: Any) -> Fault:
        """Arm a fault at a named endpoint (``token``, ``authorize``, ``login``, ``certs``, ...).

        kinds: ``status`` (status=503), ``oauth_error`` (error="invalid_grant"), ``delay``
        (delay_seconds=2), ``malformed_body``, ``wrong_issuer``, ``wrong_audience``,
        ``login_denied``. One-shot by default; ``times=None`` keeps it until removed.
        """
        body = {"endpoint": endpoint, "kind": kind, "times": times, **spec}
        armed = self._x("fault", "POST", "faults", body)
        return Fault(self, armed["id"], armed["endpoint"], armed["kind"], spec=body)

    @mock_only
    def faults(self) -> list[dict[str, Any]]:
        """The armed faults, with how often each has fired."""
        armed: list[dict[str, Any]] = self._x("faults", "GET", "faults")["faults"]
        return armed

    @mock_only
    def remove_fault(self, fault_id: str) -> bool:
        """Disarm one fault; False if it was already gone."""
        return bool(self._send("DELETE", f"faults/{fault_id}").status_code == 204)

    @mock_only
    def clear_faults(self) -> None:
        self._x("clear_faults", "DELETE", "faults")

    def reset_mock(self) -> None:
        """Clear faults, clock, lifetimes and every user's extra claims, if anything here touched the mock."""
        if self.backend != "mock" or not self.mock_touched:
            return
        for path in ("faults", "clock", "lifetimes"):
            self._x("reset", "DELETE", path)
        admin = self.session.admin
        for user in self.session.call("reset", admin.get_users, {"briefRepresentation": True}):
            self._x("reset", "DELETE", f"users/{user['id']}/claims")
        self.mock_touched = False

    def _x(self, operation: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One x-mock call; a refusal becomes an IdpControlError quoting the mock's explanation."""
        response = self._send(method, path, body)
        if response.status_code >= 400:
            try:
                detail = response.json()
                detail = detail.get("error_description") or detail.get("errorMessage") or detail
            except ValueError:
                detail = response.text[:200]
            raise IdpControlError(f"idp.{operation}() refused by the mock (HTTP {response.status_code}): {detail}")
        answer: dict[str, Any] = response.json() if response.content else {}
        return answer

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"admin/realms/{self.session.realm}/x-mock/{path}"
        connection = self.session.admin.connection
        data = json.dumps(body) if body is not None else None

        def send() -> Any:
            if method == "GET":
                return connection.raw_get(url)
            if method == "DELETE":
                return connection.raw_delete(url)
            return getattr(connection, f"raw_{method.lower()}")(url, data=data)

        response = send()
        if response.status_code == 401:  # the admin token expired (e.g. the mock's clock moved on)
            connection.get_token()
            response = send()
        return response
