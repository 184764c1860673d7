"""The browser's login session (Keycloak's root authentication session) and the logins pending in it.

Its id travels in the AUTH_SESSION_ID cookie (:mod:`mock_idp.cookies`); a login-action or
logout-confirm request counts only for a pending login of that session, so a form posted
from another browser (login CSRF, logout CSRF) finds nothing.
"""

from __future__ import annotations

from starlette.requests import Request

from mock_idp import cookies
from mock_idp.idp import IdentityProvider
from mock_idp.store import PendingLogin, new_id


def login_session(request: Request, idp: IdentityProvider) -> tuple[str, bool]:
    """The browser's login session, and whether it is new (its cookie to be set).

    Keycloak removes a login session once its last login ends, so the AUTH_SESSION_ID of a
    browser with nothing pending names nothing any more: it gets a new one."""
    root = cookies.auth_session_root(request, idp)
    if root is not None and any(login.root == root for login in idp.store.logins.values()):
        return root, False
    return new_id(18), True


def find_pending(request: Request, idp: IdentityProvider) -> PendingLogin | None:
    """The pending login (or logout) of this browser's login session that the URL names: by
    ``session_code`` (a form's target), else by ``tab_id`` (where Keycloak redirects)."""
    root, query = cookies.auth_session_root(request, idp), request.query_params
    if root is None:
        return None
    if "session_code" in query:
        found = idp.store.login(query["session_code"])
        return found if found is not None and found.root == root else None
    tab = query.get("tab_id", "")
    return next(
        (login for login in idp.store.logins.values() if tab and login.root == root and tab_id(login) == tab), None
    )


def tab_id(login: PendingLogin) -> str:
    """The login's tab in its login session (Keycloak: one per browser tab)."""
    return login.id[:11]
