"""Control the identity provider from a test: the same code against the mock and a real Keycloak.

Users and roles go through Keycloak's Admin REST API with python-keycloak's
``KeycloakAdmin`` (the mock serves a subset of that API under the same paths, with
tokens from the ``master`` realm's ``admin-cli``). The mock's own controls (extra
claims, lifetimes, clock, key rotation, faults) go through its ``x-mock`` HTTP API,
so they also work against a standalone mock; a real Keycloak has none of them, and
they raise :class:`NotSupportedOnKeycloak` there.

Everything changed through one :class:`IdpControl` can be undone with :meth:`reset`
(the pytest plugin's ``idp`` fixture does so after each test).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakError

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"
T = TypeVar("T")


# What reset() restores of a deleted realm-file user (the id is new; Keycloak assigns it).
_RESTORED_FIELDS = ("username", "email", "emailVerified", "firstName", "lastName", "enabled", "attributes")


class IdpControlError(Exception):
    """An identity-provider control operation failed; the message names the operation."""


class NotSupportedOnKeycloak(IdpControlError):
    """A mock-only control (claims, lifetimes, clock, keys, faults) was asked of a real Keycloak."""

    def __init__(self, operation: str) -> None:
        super().__init__(
            f"idp.{operation}() is a mock-only control: a real Keycloak has no x-mock API. "
            "Run with --sandbox-backend mock, or mark the test @pytest.mark.mock_only."
        )
        self.operation = operation


class UnknownUser(IdpControlError, LookupError):
    """No user of that name in the realm."""


@dataclass
class Fault:
    """An armed fault at the mock IdP. ``with idp.fault(...):`` removes it on the way out."""

    control: IdpControl
    id: str
    endpoint: str
    kind: str
    spec: dict[str, Any] = field(default_factory=dict)

    def remove(self) -> bool:
        """Disarm it; False if it was already gone (a one-shot fault disappears once it fired)."""
        return self.control._remove_fault(self.id)

    @property
    def armed(self) -> bool:
        return any(item["id"] == self.id for item in self.control.faults())

    def __enter__(self) -> Fault:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()


class IdpControl:
    """Users, roles and (on the mock) claims, lifetimes, clock, keys and faults of one realm.

    ``server_url`` is where the realm lives below (python-keycloak's ``server_url``):
    ``http://localhost:PORT/idp/`` for the sandbox's mock, ``http://localhost:KC/`` for Keycloak.
    ``credentials`` (username -> password) is kept up to date with the users created and
    the passwords set here, so clients can sign in as them.
    """

    def __init__(
        self,
        server_url: str,
        realm: str,
        backend: Literal["mock", "keycloak"],
        *,
        credentials: dict[str, str] | None = None,
        admin_username: str = ADMIN_USERNAME,
        admin_password: str = ADMIN_PASSWORD,
        on_key_rotation: Callable[[], None] | None = None,
    ) -> None:
        # Told after each rotate_keys(): the plugin names FastMCP's JWKS window when a sign-in then fails.
        self._on_key_rotation = on_key_rotation
        self.server_url = server_url if server_url.endswith("/") else server_url + "/"
        self.realm = realm
        self.backend = backend
        self.credentials = credentials if credentials is not None else {}
        self._admin_login = (admin_username, admin_password)
        self._admin: KeycloakAdmin | None = None
        # What reset() undoes: users created here, and the first-known state of users changed here.
        self._created: set[str] = set()
        self._original_passwords: dict[str, str | None] = {}
        self._original_roles: dict[str, set[str]] = {}
        # Users the test deleted that it had not created: (representation, password, roles).
        self._deleted: dict[str, tuple[dict[str, Any], str | None, set[str]]] = {}
        self._mock_touched = False

    @property
    def admin_url(self) -> str:
        return f"{self.server_url}admin/realms/{self.realm}"

    @property
    def admin(self) -> KeycloakAdmin:
        """python-keycloak's admin client for this realm (for anything the methods here do not cover)."""
        if self._admin is None:
            username, password = self._admin_login
            self._admin = KeycloakAdmin(
                server_url=self.server_url,
                username=username,
                password=password,
                realm_name=self.realm,
                user_realm_name="master",
                client_id="admin-cli",
            )
        return self._admin

    # -- users and roles: both backends -------------------------------------------------

    def create_user(
        self,
        username: str,
        password: str,
        *,
        roles: Iterable[str] = (),
        email: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        attributes: dict[str, list[str]] | None = None,
    ) -> str:
        """Create an enabled user with a permanent password and these realm roles; returns its id.

        The profile is filled in (email ``<username>@example.com``, names from the username
        unless given): Keycloak 26 otherwise stops the first login at its "update your
        profile" page (required action VERIFY_PROFILE), which the mock does not have.
        """
        payload: dict[str, Any] = {
            "username": username,
            "enabled": True,
            "email": email or f"{username.lower()}@example.com",
            "emailVerified": True,
            "firstName": first_name or username.capitalize(),
            "lastName": last_name or "Sandbox",
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        }
        if attributes:
            payload["attributes"] = attributes
        user_id = self._call("create_user", lambda: self.admin.create_user(payload))
        self._created.add(username.lower())
        self.credentials[username.lower()] = password
        roles = list(roles)
        if roles:
            self.assign_roles(username, *roles)
        return user_id

    def get_user(self, username: str) -> dict[str, Any]:
        """Keycloak's UserRepresentation, plus ``realmRoles``: the user's direct realm roles."""
        user_id = self.user_id(username)
        user = self._call("get_user", lambda: self.admin.get_user(user_id))
        user["realmRoles"] = sorted(self._direct_roles(user_id))
        return user

    def user_id(self, username: str) -> str:
        user_id = self._call("user_id", lambda: self.admin.get_user_id(username))
        if user_id is None:
            raise UnknownUser(f"no user {username!r} in realm {self.realm!r}")
        return user_id

    def delete_user(self, username: str) -> None:
        user_id = self.user_id(username)
        key = username.lower()
        if key not in self._created and key not in self._deleted:
            # reset() brings them back (with a new id): later tests expect the realm's users.
            representation = self._call("delete_user", lambda: self.admin.get_user(user_id))
            password = self._original_passwords.get(key, self.credentials.get(key))
            roles = self._original_roles.get(key, self._direct_roles(user_id))
            self._deleted[key] = (representation, password, roles)
        self._call("delete_user", lambda: self.admin.delete_user(user_id))
        self._created.discard(username.lower())
        self.credentials.pop(username.lower(), None)

    def set_password(self, username: str, password: str, *, temporary: bool = False) -> None:
        """A new password (``temporary=True``: the user must change it at the next login)."""
        user_id = self.user_id(username)
        self._original_passwords.setdefault(username.lower(), self.credentials.get(username.lower()))
        self._call("set_password", lambda: self.admin.set_user_password(user_id, password, temporary=temporary))
        self.credentials[username.lower()] = password

    def assign_roles(self, username: str, *roles: str) -> None:
        """Grant realm roles (they show in the next tokens' ``realm_access.roles``)."""
        self._map_roles("assign_roles", username, roles, add=True)

    def remove_roles(self, username: str, *roles: str) -> None:
        self._map_roles("remove_roles", username, roles, add=False)

    def _map_roles(self, operation: str, username: str, roles: Iterable[str], *, add: bool) -> None:
        user_id = self.user_id(username)
        self._original_roles.setdefault(username.lower(), self._direct_roles(user_id))
        reps = [self._call(operation, lambda name=name: self.admin.get_realm_role(name)) for name in roles]
        if not reps:
            return
        if add:
            self._call(operation, lambda: self.admin.assign_realm_roles(user_id, reps))
        else:
            self._call(operation, lambda: self.admin.delete_realm_roles_of_user(user_id, reps))

    def _direct_roles(self, user_id: str) -> set[str]:
        return {role["name"] for role in self._call("get_user", lambda: self.admin.get_realm_roles_of_user(user_id))}

    # -- mock-only controls (x-mock) -----------------------------------------------------

    def set_claims(self, username: str, **claims: Any) -> dict[str, Any]:
        """Merge these claims into the user's access and ID tokens and userinfo (replacing earlier ones)."""
        user_id = self._mock_user_id("set_claims", username)
        return self._x("set_claims", "PUT", f"users/{user_id}/claims", {"claims": claims})["claims"]

    def clear_claims(self, username: str) -> None:
        user_id = self._mock_user_id("clear_claims", username)
        self._x("clear_claims", "DELETE", f"users/{user_id}/claims")

    def set_lifetimes(
        self, *, access_token: int | None = None, refresh_token: int | None = None, code: int | None = None
    ) -> dict[str, Any]:
        """Token lifespans in seconds at the IdP (None: the realm's); ``refresh_token`` is the session idle timeout."""
        given = {"access_token": access_token, "refresh_token": refresh_token, "code": code}
        return self._x("set_lifetimes", "PUT", "lifetimes", {k: v for k, v in given.items() if v is not None})

    def advance_clock(self, seconds: float) -> float:
        """Move the IdP's clock forward (or back); tokens it issued expire by its clock. Returns the offset."""
        return self._x("advance_clock", "POST", "clock/advance", {"seconds": seconds})["offset"]

    def rotate_keys(self, *, keep_old: bool = True, grace_seconds: float = 300) -> str:
        """A new signing key; the old one stays in the JWKS for ``grace_seconds`` (or is dropped). Returns the new kid."""
        body = {"keep_old": keep_old, "grace_seconds": grace_seconds}
        kid = self._x("rotate_keys", "POST", "keys/rotate", body)["kid"]
        if self._on_key_rotation is not None:
            self._on_key_rotation()
        return kid

    def fault(self, endpoint: str, kind: str, *, times: int | None = 1, **spec: Any) -> Fault:
        """Arm a fault at a named endpoint (``token``, ``authorize``, ``login``, ``certs``, ...).

        kinds: ``status`` (status=503), ``oauth_error`` (error="invalid_grant"), ``delay``
        (delay_seconds=2), ``malformed_body``, ``wrong_issuer``, ``wrong_audience``,
        ``login_denied``. One-shot by default; ``times=None`` keeps it until removed.
        """
        body = {"endpoint": endpoint, "kind": kind, "times": times, **spec}
        armed = self._x("fault", "POST", "faults", body)
        return Fault(self, armed["id"], armed["endpoint"], armed["kind"], spec=body)

    def faults(self) -> list[dict[str, Any]]:
        """The armed faults, with how often each has fired."""
        return self._x("faults", "GET", "faults")["faults"]

    def clear_faults(self) -> None:
        self._x("clear_faults", "DELETE", "faults")

    def _remove_fault(self, fault_id: str) -> bool:
        response = self._send("fault.remove", "DELETE", f"faults/{fault_id}")
        return response.status_code == 204

    # -- undo ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Undo what was changed through this control: delete the users it created, give changed
        users back their passwords and roles; on the mock also clear faults, clock, lifetimes
        and every user's extra claims. Safe on both backends.

        A key rotation is not undone: tokens signed with the new key must stay valid, and putting
        the old key back would send the proxy to refetch the JWKS, which FastMCP throttles."""
        problems: list[str] = []
        for step in (self._reset_mock, self._reset_users):
            try:
                step()
            except Exception as exc:  # keep going: one failed step should not leave the rest dirty
                problems.append(str(exc))
        if problems:
            raise IdpControlError("reset incomplete: " + "; ".join(problems))

    def _reset_mock(self) -> None:
        if self.backend != "mock" or not self._mock_touched:
            return
        self._x("reset", "DELETE", "faults")
        self._x("reset", "DELETE", "clock")
        self._x("reset", "DELETE", "lifetimes")
        for user in self._call("reset", lambda: self.admin.get_users({"briefRepresentation": True})):
            self._x("reset", "DELETE", f"users/{user['id']}/claims")
        self._mock_touched = False

    def _reset_users(self) -> None:
        for username in sorted(self._created):
            if self._call("reset", lambda: self.admin.get_user_id(username)) is not None:
                self.delete_user(username)
            self.credentials.pop(username, None)
        self._created.clear()
        for username, (representation, password, roles) in self._deleted.items():
            fields = {k: v for k, v in representation.items() if k in _RESTORED_FIELDS}
            if password is not None:
                fields["credentials"] = [{"type": "password", "value": password, "temporary": False}]
                self.credentials[username] = password
            user_id = self._call("reset", lambda: self.admin.create_user(fields))
            if roles:
                wanted = [self.admin.get_realm_role(name) for name in sorted(roles)]
                self._call("reset", lambda: self.admin.assign_realm_roles(user_id, wanted))
            self._original_roles.pop(username, None)
            self._original_passwords.pop(username, None)
        self._deleted.clear()
        for username, roles in self._original_roles.items():
            user_id = self._call("reset", lambda: self.admin.get_user_id(username))
            if user_id is None:
                continue
            now = self._direct_roles(user_id)
            if extra := [self.admin.get_realm_role(name) for name in now - roles]:
                self._call("reset", lambda: self.admin.delete_realm_roles_of_user(user_id, extra))
            if missing := [self.admin.get_realm_role(name) for name in roles - now]:
                self._call("reset", lambda: self.admin.assign_realm_roles(user_id, missing))
        self._original_roles.clear()
        for username, password in self._original_passwords.items():
            user_id = self._call("reset", lambda: self.admin.get_user_id(username))
            if user_id is not None and password is not None:
                self._call("reset", lambda: self.admin.set_user_password(user_id, password, temporary=False))
                self.credentials[username] = password
        self._original_passwords.clear()

    # -- plumbing -----------------------------------------------------------------------

    def _mock_user_id(self, operation: str, username: str) -> str:
        self._require_mock(operation)
        return self.user_id(username)

    def _require_mock(self, operation: str) -> None:
        if self.backend != "mock":
            raise NotSupportedOnKeycloak(operation)

    def _x(self, operation: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        """One x-mock call; a refusal becomes an IdpControlError quoting the mock's explanation."""
        response = self._send(operation, method, path, body)
        if response.status_code >= 400:
            try:
                detail = response.json()
                detail = detail.get("error_description") or detail.get("errorMessage") or detail
            except ValueError:
                detail = response.text[:200]
            raise IdpControlError(f"idp.{operation}() refused by the mock (HTTP {response.status_code}): {detail}")
        return response.json() if response.content else {}

    def _send(self, operation: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        self._require_mock(operation)
        self._mock_touched = True
        url = f"admin/realms/{self.realm}/x-mock/{path}"
        connection = self.admin.connection
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

    def _call(self, operation: str, action: Callable[[], T]) -> T:
        try:
            try:
                return action()
            except KeycloakAuthenticationError:
                self.admin.connection.get_token()  # the admin token expired; once more with a new one
                return action()
        except KeycloakError as exc:
            body = (
                exc.response_body.decode(errors="replace")
                if isinstance(exc.response_body, bytes)
                else exc.response_body
            )
            raise IdpControlError(
                f"idp.{operation}() failed (HTTP {exc.response_code}): {body or exc.error_message}"
            ) from exc
