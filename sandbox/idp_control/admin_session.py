"""One admin session at the realm: python-keycloak's ``KeycloakAdmin``, logged in on first use.

Both backends answer it (the mock serves that subset of Keycloak's Admin REST API, with
tokens from the ``master`` realm's ``admin-cli``). :meth:`AdminSession.call` turns
python-keycloak's errors into one :class:`IdpControlError` naming the operation, and logs in
again once when the admin token expired (the mock's clock may have moved past it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ParamSpec, TypeVar

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakError

from mock_idp.master import ADMIN_PASSWORD, ADMIN_USERNAME
from sandbox.idp_control.errors import IdpControlError, UnknownUser

T = TypeVar("T")
P = ParamSpec("P")


class AdminSession:
    def __init__(
        self,
        server_url: str,
        realm: str,
        *,
        admin_username: str = ADMIN_USERNAME,
        admin_password: str = ADMIN_PASSWORD,
    ) -> None:
        self.server_url = server_url if server_url.endswith("/") else server_url + "/"
        self.realm = realm
        self._login = (admin_username, admin_password)
        self._admin: KeycloakAdmin | None = None

    @property
    def admin(self) -> KeycloakAdmin:
        """python-keycloak's admin client for this realm (for anything the control API does not cover)."""
        if self._admin is None:
            username, password = self._login
            self._admin = KeycloakAdmin(
                server_url=self.server_url,
                username=username,
                password=password,
                realm_name=self.realm,
                user_realm_name="master",
                client_id="admin-cli",
            )
        return self._admin

    def call(self, operation: str, action: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``action(*args, **kwargs)``, a python-keycloak call; its error names ``operation``."""
        try:
            try:
                return action(*args, **kwargs)
            except KeycloakAuthenticationError:
                self.admin.connection.get_token()  # the admin token expired; once more with a new one
                return action(*args, **kwargs)
        except KeycloakError as exc:
            cause = _text(exc.response_body) or _text(exc.error_message)
            raise IdpControlError(f"idp.{operation}() failed (HTTP {exc.response_code}): {cause}") from exc

    def user_id(self, operation: str, username: str) -> str | None:
        found: str | None = self.call(operation, self.admin.get_user_id, username)
        return found

    def existing_user_id(self, username: str) -> str:
        user_id = self.user_id("user_id", username)
        if user_id is None:
            raise UnknownUser(f"no user {username!r} in realm {self.realm!r}")
        return user_id

    def direct_roles(self, user_id: str) -> set[str]:
        """The user's realm roles mapped to it directly (not through groups or composites)."""
        return {role["name"] for role in self.call("get_user", self.admin.get_realm_roles_of_user, user_id)}

    def roles(self, operation: str, names: Iterable[str]) -> list[dict[str, Any]]:
        """The realm roles' representations, as the role-mapping endpoints take them."""
        return [self._role(operation, name) for name in names]

    def _role(self, operation: str, name: str) -> dict[str, Any]:
        role: dict[str, Any] = self.call(operation, self.admin.get_realm_role, name)
        return role


def _text(value: object) -> str:
    """python-keycloak's error parts, bytes or str, as text."""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value) if value else ""
