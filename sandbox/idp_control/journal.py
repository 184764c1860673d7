"""The undo journal: what a test changed through the control API, and how to put it back.

It notes the first-known state of each user a test touches (created, password, roles,
deleted) and :meth:`UndoJournal.undo` restores it, so the next test finds the realm file's
users as they were. The readers (:attr:`created`, :meth:`changed`) let a test see what is noted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.idp_control.admin_session import AdminSession

# What undo() restores of a deleted realm-file user (the id is new; Keycloak assigns it).
RESTORED_FIELDS = ("username", "email", "emailVerified", "firstName", "lastName", "enabled", "attributes")


@dataclass
class DeletedUser:
    representation: dict[str, Any]
    password: str | None
    roles: set[str]


@dataclass
class UndoJournal:
    session: AdminSession
    # username -> password for clients; kept in step with what is created, changed and restored.
    credentials: dict[str, str]
    _created: set[str] = field(default_factory=set)
    _passwords: dict[str, str | None] = field(default_factory=dict)
    _roles: dict[str, set[str]] = field(default_factory=dict)
    _deleted: dict[str, DeletedUser] = field(default_factory=dict)

    @property
    def created(self) -> frozenset[str]:
        """Users created through the control API that undo() will delete (lower-case)."""
        return frozenset(self._created)

    def changed(self) -> frozenset[str]:
        """Every user whose password, roles or existence undo() will restore (lower-case)."""
        return frozenset(self._created | self._passwords.keys() | self._roles.keys() | self._deleted.keys())

    def note_created(self, username: str) -> None:
        self._created.add(username.lower())

    def note_password(self, username: str) -> None:
        self._passwords.setdefault(username.lower(), self.credentials.get(username.lower()))

    def note_roles(self, username: str, current: Callable[[], set[str]]) -> None:
        if username.lower() not in self._roles:
            self._roles[username.lower()] = current()

    def note_deleted(self, username: str, user_id: str) -> None:
        key = username.lower()
        if key not in self._created and key not in self._deleted:
            # undo() brings them back (with a new id): later tests expect the realm's users.
            representation = self.session.call("delete_user", self.session.admin.get_user, user_id)
            password = self._passwords.get(key, self.credentials.get(key))
            roles = self._roles[key] if key in self._roles else self.session.direct_roles(user_id)
            self._deleted[key] = DeletedUser(representation, password, roles)

    def note_gone(self, username: str) -> None:
        """The user is deleted: nothing left to delete on undo, and no client can sign in as them."""
        self._created.discard(username.lower())
        self.credentials.pop(username.lower(), None)

    def undo(self) -> None:
        """Delete the users created, bring back those deleted, give back passwords and roles."""
        self._delete_created()
        self._restore_deleted()
        self._restore_roles()
        self._restore_passwords()

    def _delete_created(self) -> None:
        admin = self.session.admin
        for username in sorted(self._created):
            user_id = self.session.user_id("reset", username)
            if user_id is not None:
                self.session.call("reset", admin.delete_user, user_id)
            self.credentials.pop(username, None)
        self._created.clear()

    def _restore_deleted(self) -> None:
        admin = self.session.admin
        for username, deleted in self._deleted.items():
            fields = {k: v for k, v in deleted.representation.items() if k in RESTORED_FIELDS}
            if deleted.password is not None:
                fields["credentials"] = [{"type": "password", "value": deleted.password, "temporary": False}]
                self.credentials[username] = deleted.password
            user_id = self.session.call("reset", admin.create_user, fields)
            if deleted.roles:
                wanted = self.session.roles("reset", sorted(deleted.roles))
                self.session.call("reset", admin.assign_realm_roles, user_id, wanted)
            self._roles.pop(username, None)
            self._passwords.pop(username, None)
        self._deleted.clear()

    def _restore_roles(self) -> None:
        admin = self.session.admin
        for username, roles in self._roles.items():
            user_id = self.session.user_id("reset", username)
            if user_id is None:
                continue
            now = self.session.direct_roles(user_id)
            if extra := self.session.roles("reset", now - roles):
                self.session.call("reset", admin.delete_realm_roles_of_user, user_id, extra)
            if missing := self.session.roles("reset", roles - now):
                self.session.call("reset", admin.assign_realm_roles, user_id, missing)
        self._roles.clear()

    def _restore_passwords(self) -> None:
        admin = self.session.admin
        for username, password in self._passwords.items():
            user_id = self.session.user_id("reset", username)
            if user_id is not None and password is not None:
                self.session.call("reset", admin.set_user_password, user_id, password, temporary=False)
                self.credentials[username] = password
        self._passwords.clear()
