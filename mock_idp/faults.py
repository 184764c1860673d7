"""Injected faults: one-shot or persistent misbehaviour at a named endpoint.

``ENDPOINTS`` is the one place that maps fault endpoint names to the realm's
routes. Response faults (``status``, ``oauth_error``, ``delay``,
``malformed_body``) fire in :class:`FaultMiddleware` before the endpoint runs;
the others change what an endpoint does and are taken by the code concerned
(``wrong_issuer``/``wrong_audience`` at token issuance, ``login_denied`` at
the login form and the password grant).
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mock_idp.errors import NO_STORE, SpecError

if TYPE_CHECKING:  # imported where a fault fires: the standalone mock answers its documents before it loads Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Receive, Scope, Send

# name -> paths below the realm prefix; "registration" also covers its sub-paths.
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "discovery": ("/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"),
    "authorize": ("/protocol/openid-connect/auth",),
    "login": ("/login-actions/authenticate",),
    "token": ("/protocol/openid-connect/token",),
    "userinfo": ("/protocol/openid-connect/userinfo",),
    "introspect": ("/protocol/openid-connect/token/introspect",),
    "revoke": ("/protocol/openid-connect/revoke",),
    "certs": ("/protocol/openid-connect/certs",),
    "logout": ("/protocol/openid-connect/logout",),
    "registration": ("/clients-registrations/openid-connect",),
}
RESPONSE_KINDS = ("status", "oauth_error", "delay", "malformed_body")
# kind -> endpoints where it can fire (the first is the default).
BEHAVIOUR_KINDS: dict[str, tuple[str, ...]] = {
    "wrong_issuer": ("token",),
    "wrong_audience": ("token",),
    "login_denied": ("login", "token"),
}
KINDS = (*RESPONSE_KINDS, *BEHAVIOUR_KINDS)
MAX_DELAY_SECONDS = 30.0
WRONG_ISSUER = "http://wrong-issuer.invalid/realms/wrong"
WRONG_AUDIENCE = "http://wrong-audience.invalid"
LOGIN_DENIED = "Login denied by sandbox fault."
# Keycloak's statuses for OAuth error codes; anything else is 400 (RFC 6749 §5.2).
OAUTH_ERROR_STATUS = {
    "invalid_client": 401,
    "invalid_token": 401,
    "insufficient_scope": 403,
    "server_error": 500,
    "temporarily_unavailable": 503,
}
MALFORMED_BODY = b'{"access_token": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3'
_ids = itertools.count(1)


@dataclass
class Fault:
    id: str
    endpoint: str
    kind: str
    status: int | None = None
    error: str | None = None
    error_description: str | None = None
    delay_seconds: float | None = None
    times: int | None = 1  # firings left; None = until cleared
    fired: int = 0

    @classmethod
    def from_spec(cls, spec: object) -> Fault:
        """Validate a fault spec (the JSON body of ``POST x-mock/faults``); SpecError names the bad field."""
        # The spec's pydantic model is imported at the first fault: pydantic is a third of a cold start.
        from mock_idp.fault_spec import FaultSpec
        from mock_idp.typed_bodies import parse

        given = parse(FaultSpec, spec)
        allowed = BEHAVIOUR_KINDS.get(given.kind, tuple(ENDPOINTS))
        endpoint = given.endpoint or (allowed[0] if given.kind in BEHAVIOUR_KINDS else None)
        if endpoint not in allowed:
            raise SpecError("endpoint", f"{given.kind!r} faults fire at: {', '.join(allowed)}")
        for name, kind in (("status", "status"), ("error", "oauth_error"), ("delay_seconds", "delay")):
            if given.kind == kind and getattr(given, name) is None:
                raise SpecError(name, f"required for {kind!r} faults")
        return cls(id=f"fault-{next(_ids)}", endpoint=endpoint, **given.model_dump(exclude={"endpoint"}))

    @property
    def description(self) -> str:
        return self.error_description or f"Injected by sandbox fault {self.id}"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Faults:
    """The armed faults of one realm, in the order they were added."""

    def __init__(self) -> None:
        self.armed: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        self.armed.append(fault)
        return fault

    def remove(self, fault_id: str) -> bool:
        before = len(self.armed)
        self.armed = [fault for fault in self.armed if fault.id != fault_id]
        return len(self.armed) != before

    def clear(self) -> None:
        self.armed.clear()

    def matching(self, endpoint: str, kinds: tuple[str, ...]) -> list[Fault]:
        return [fault for fault in self.armed if fault.endpoint == endpoint and fault.kind in kinds]

    def fire(self, fault: Fault) -> Fault:
        """Count a firing; an exhausted fault disappears."""
        fault.fired += 1
        if fault.times is not None:
            fault.times -= 1
            if fault.times == 0 and fault in self.armed:
                self.armed.remove(fault)
        return fault

    def take(self, endpoint: str, kinds: tuple[str, ...]) -> Fault | None:
        """Fire the first armed fault of ``kinds`` at ``endpoint``, if any."""
        found = self.matching(endpoint, kinds)
        return self.fire(found[0]) if found else None


def endpoint_for(route_path: str, prefix: str) -> str | None:
    """The fault endpoint name of a request path (relative to the app), if any."""
    if not route_path.startswith(prefix + "/"):
        return None
    rest = route_path[len(prefix) :]
    for name, paths in ENDPOINTS.items():
        for path in paths:
            if rest == path or (name == "registration" and rest.startswith(path + "/")):
                return name
    return None


def fault_response(fault: Fault) -> Response:
    """The canned answer of a fired ``status``/``oauth_error``/``malformed_body`` fault."""
    from starlette.responses import JSONResponse, Response

    if fault.kind == "malformed_body":
        return Response(MALFORMED_BODY, status_code=200, media_type="application/json", headers=NO_STORE)
    if fault.kind == "oauth_error":
        error = fault.error or "invalid_request"
        status = fault.status or OAUTH_ERROR_STATUS.get(error, 400)
    else:
        status = fault.status or 503
        error = fault.error or (
            "temporarily_unavailable" if status == 503 else "server_error" if status >= 500 else "invalid_request"
        )
    return JSONResponse({"error": error, "error_description": fault.description}, status_code=status, headers=NO_STORE)


# Endpoint-specific rendering of a fired response fault (the authorization
# endpoint redirects OAuth errors to the client); returns None to fall back.
Renderer = Callable[["Request", Fault], Awaitable["Response | None"]]


class FaultMiddleware:
    """Fires response faults for requests to a realm's named endpoints."""

    def __init__(self, app: ASGIApp, prefix: str, renderers: dict[str, Renderer] | None = None) -> None:
        self.app = app
        self.prefix = prefix
        self.renderers = renderers or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        faults: Faults = scope["app"].state.idp.faults
        # Nothing armed (the usual case): no path to name.
        armed = faults.armed and scope["type"] == "http"
        endpoint = endpoint_for(route_path(scope), self.prefix) if armed else None
        if endpoint is not None:
            import anyio
            from starlette.requests import Request

            # Delays sleep and fall through to the next fault (or the endpoint).
            for fault in faults.matching(endpoint, RESPONSE_KINDS):
                faults.fire(fault)
                if fault.kind == "delay":
                    await anyio.sleep(fault.delay_seconds or 0)
                    continue
                renderer = self.renderers.get(endpoint)
                response = await renderer(Request(scope, receive), fault) if renderer else None
                await (response or fault_response(fault))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def route_path(scope: Scope) -> str:
    """The request path below wherever the app is mounted (e.g. /idp in the sandbox)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
