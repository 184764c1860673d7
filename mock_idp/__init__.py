"""An in-process, Keycloak-compatible OpenID provider driven by a Keycloak realm export."""

from mock_idp.app import create_app
from mock_idp.realm import Realm
from mock_idp.realm_file import RealmError, load_realm

__all__ = ["Realm", "RealmError", "create_app", "load_realm"]
