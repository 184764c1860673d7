"""Users and realm roles, on both backends: Keycloak's Admin REST API through ``KeycloakAdmin``.

Every change is noted in the undo journal first, so ``reset()`` can put the realm back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.idp_control.admin_session import AdminSession
from sandbox.idp_control.journal import UndoJournal


class RealmUsers:
    """The user half of :class:`sandbox.idp_control.IdpControl`."""

    session: AdminSession
    journal: UndoJournal
    credentials: dict[str, str]

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
        user_id: str = self.session.call("create_user", self.session.admin.create_user, payload)
        self.journal.note_created(username)
        self.credentials[username.lower()] = password
        roles = list(roles)
        if roles:
            self.assign_roles(username, *roles)
        return user_id

    def get_user(self, username: str) -> dict[str, Any]:
        """Keycloak's UserRepresentation, plus ``realmRoles``: the user's direct realm roles."""
        user_id = self.user_id(username)
        user: dict[str, Any] = self.session.call("get_user", self.session.admin.get_user, user_id)
        user["realmRoles"] = sorted(self.session.direct_roles(user_id))
        return user

    def user_id(self, username: str) -> str:
        return self.session.existing_user_id(username)

    def delete_user(self, username: str) -> None:
        user_id = self.user_id(username)
        self.journal.note_deleted(username, user_id)
        self.session.call("delete_user", self.session.admin.delete_user, user_id)
        self.journal.note_gone(username)

    def set_password(self, username: str, password: str, *, temporary: bool = False) -> None:
        """A new password (``temporary=True``: the user must change it at the next login)."""
        user_id = self.user_id(username)
        self.journal.note_password(username)
        admin = self.session.admin
        self.session.call("set_password", admin.set_user_password, user_id, password, temporary=temporary)
        self.credentials[username.lower()] = password

    def assign_roles(self, username: str, *roles: str) -> None:
        """Grant realm roles (they show in the next tokens' ``realm_access.roles``)."""
        self._map_roles("assign_roles", username, roles, add=True)

    def remove_roles(self, username: str, *roles: str) -> None:
        self._map_roles("remove_roles", username, roles, add=False)

    def _map_roles(self, operation: str, username: str, roles: Iterable[str], *, add: bool) -> None:
        user_id = self.user_id(username)
        self.journal.note_roles(username, lambda: self.session.direct_roles(user_id))
        reps = self.session.roles(operation, roles)
        if not reps:
            return
        admin = self.session.admin
        if add:
            self.session.call(operation, admin.assign_realm_roles, user_id, reps)
        else:
            self.session.call(operation, admin.delete_realm_roles_of_user, user_id, reps)
