"""An in-process, Keycloak-compatible OpenID provider driven by a Keycloak realm export."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mock_idp.app import create_app
    from mock_idp.realm import Realm
    from mock_idp.realm_file import RealmError, load_realm

__all__ = ["Realm", "RealmError", "create_app", "load_realm"]

# Each name's module, imported at the name's first use (PEP 562): importing one submodule
# (mock_idp.realm, say) then costs that module, not the whole app.
_HOMES = {"create_app": "mock_idp.app", "Realm": "mock_idp.realm", "RealmError": "mock_idp.realm_file"}
_HOMES["load_realm"] = "mock_idp.realm_file"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mock_idp' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
