"""The ``master`` realm, synthesized: Keycloak creates it itself, so no realm file has it.

It exists for the Admin REST API: ``admin-cli`` (public, direct access grants)
gets a bootstrap admin a token at ``/realms/master/protocol/openid-connect/token``,
exactly as python-keycloak's ``KeycloakAdmin(user_realm_name="master")`` asks.
"""

from __future__ import annotations

from mock_idp.realm import Realm
from mock_idp.realm_file import load_realm

MASTER = "master"
ADMIN_ROLE = "admin"
# The bootstrap admin, as the sandbox starts Keycloak with it (KC_BOOTSTRAP_ADMIN_*): defined once,
# here, since mock_idp imports nothing from sandbox and sandbox imports it.
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"


def master_realm(admin_username: str, admin_password: str) -> Realm:
    return load_realm(
        {
            "realm": MASTER,
            "displayName": "Keycloak",
            "accessTokenLifespan": 60,  # Keycloak's default for master
            "roles": {
                "realm": [
                    {"name": ADMIN_ROLE, "description": "${role_admin}"},
                    {"name": "create-realm", "description": "${role_create-realm}"},
                ]
            },
            "clients": [
                {
                    "clientId": "admin-cli",
                    "name": "${client_admin-cli}",
                    "publicClient": True,
                    "standardFlowEnabled": False,
                    "directAccessGrantsEnabled": True,
                }
            ],
            "users": [
                {
                    "username": admin_username.lower(),
                    "enabled": True,
                    "credentials": [{"type": "password", "value": admin_password, "temporary": False}],
                    "realmRoles": [ADMIN_ROLE, "create-realm"],
                }
            ],
        },
        origin="<synthesized master realm>",
    )
