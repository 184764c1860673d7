"""Control the identity provider from a test: the same code against the mock and a real Keycloak.

Users and roles go through Keycloak's Admin REST API with python-keycloak's ``KeycloakAdmin``
(``users.py``; the mock serves a subset of that API under the same paths, with tokens from the
``master`` realm's ``admin-cli``). The mock's own controls (extra claims, lifetimes, clock, key
rotation, faults) go through its ``x-mock`` HTTP API (``mock_controls.py``), so they also work
against a standalone mock; a real Keycloak has none of them, and they raise
:class:`NotSupportedOnKeycloak` there.

Everything changed through one :class:`IdpControl` is noted in its undo journal
(``journal.py``) and undone by :meth:`IdpControl.reset` (the pytest plugin's ``idp`` fixture
does so after each test). The server side of the mock's controls is ``mock_idp/admin/control.py``.
"""

from sandbox.idp_control.control import IdpControl
from sandbox.idp_control.errors import IdpControlError, NotSupportedOnKeycloak, UnknownUser
from sandbox.idp_control.mock_controls import Fault

__all__ = ["Fault", "IdpControl", "IdpControlError", "NotSupportedOnKeycloak", "UnknownUser"]
