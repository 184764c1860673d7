"""``IdpControl``: what the ``idp`` fixture hands a test, users and mock controls of one realm.

It is the users (:mod:`~sandbox.idp_control.users`, both backends), the mock's own controls
(:mod:`~sandbox.idp_control.mock_controls`, refused on Keycloak) and the undo journal
(:mod:`~sandbox.idp_control.journal`) over one admin session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from keycloak import KeycloakAdmin

from mock_idp.master import ADMIN_PASSWORD, ADMIN_USERNAME
from sandbox.idp_control.admin_session import AdminSession
from sandbox.idp_control.errors import IdpControlError
from sandbox.idp_control.journal import UndoJournal
from sandbox.idp_control.mock_controls import MockControls
from sandbox.idp_control.users import RealmUsers


class IdpControl(RealmUsers, MockControls):
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
        self.session = AdminSession(server_url, realm, admin_username=admin_username, admin_password=admin_password)
        self.backend = backend
        self.credentials = credentials if credentials is not None else {}
        self.journal = UndoJournal(self.session, self.credentials)
        self.mock_touched = False
        # Told after each rotate_keys(): the plugin names FastMCP's JWKS window when a sign-in then fails.
        self.on_key_rotation = on_key_rotation

    @property
    def server_url(self) -> str:
        return self.session.server_url

    @property
    def realm(self) -> str:
        return self.session.realm

    @property
    def admin_url(self) -> str:
        return f"{self.server_url}admin/realms/{self.realm}"

    @property
    def admin(self) -> KeycloakAdmin:
        """python-keycloak's admin client for this realm (for anything the methods here do not cover)."""
        return self.session.admin

    def reset(self) -> None:
        """Undo what was changed through this control: delete the users it created, give changed
        users back their passwords and roles; on the mock also clear faults, clock, lifetimes
        and every user's extra claims. Safe on both backends.

        A key rotation is not undone: tokens signed with the new key must stay valid, and putting
        the old key back would send the proxy to refetch the JWKS, which FastMCP throttles."""
        problems: list[str] = []
        for step in (self.reset_mock, self.journal.undo):
            try:
                step()
            except Exception as exc:  # keep going: one failed step should not leave the rest dirty
                problems.append(str(exc))
        if problems:
            raise IdpControlError("reset incomplete: " + "; ".join(problems))
