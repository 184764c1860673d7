"""Users and realm roles as the Admin REST API edits them.

The realm file stays the source of truth for whatever the admin API has not
touched: edits are recorded as an overlay in the persisted store
(``users``: username -> user representation, or ``None`` once deleted;
``roles``: name -> role) and replayed over the file's realm on every start.
So admin-made users survive a restart, and editing the file still shows up
for users nobody edited.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any, TypeVar

from mock_idp.clock import Clock
from mock_idp.defaults import DEFAULT_ROLE_COMPOSITES
from mock_idp.errors import admin_bad_request, admin_conflict, admin_not_found
from mock_idp.json_model import JsonModel, ValidationError
from mock_idp.realm import Credential, Realm, Role, RoleComposites, User
from mock_idp.realm_file import json_path
from mock_idp.store import Store

log = logging.getLogger("mock_idp")
ModelT = TypeVar("ModelT", bound=JsonModel)

# Keycloak ignores these on POST/PUT /users (roles and groups have their own endpoints).
_IGNORED_ON_WRITE = ("id", "realmRoles", "clientRoles", "groups", "createdTimestamp", "serviceAccountClientId")
# "attributes" is not among them: Keycloak 26's user profile drops attributes it does not
# declare (unmanaged attributes are disabled by default), on create and on update alike.
_EDITABLE = ("enabled", "email", "emailVerified", "firstName", "lastName")
_PROFILE = ("email", "firstName", "lastName")


class UserDirectory:
    def __init__(self, realm: Realm, store: Store, clock: Clock) -> None:
        self.realm = realm
        self.store = store
        self.clock = clock
        # The realm file's users and roles, for replaying the overlay over them again.
        self._file_users, self._file_roles = list(realm.user_list), list(realm.roles.realm)
        self._version = self.store.overlay_version()
        self._replay()

    def sync(self) -> None:
        """Catch up with edits another process made (replicas sharing one store)."""
        if self.store.shared and self.store.overlay_version() != self._version:
            self._version = self.store.overlay_version()
            self.realm.user_list, self.realm.roles.realm = list(self._file_users), list(self._file_roles)
            self._replay()

    def _replay(self) -> None:
        users = self.store.overlay_users()
        kept = [user for user in self.realm.user_list if user.username not in users]
        for username, rep in users.items():
            if rep is not None:
                kept.extend(_validated(User, rep, f"overlay user {username!r}"))
        self.realm.user_list = kept
        declared = {role.name for role in self.realm.roles.realm}
        for name, rep in self.store.overlay_roles().items():
            if name not in declared:
                self.realm.roles.realm.extend(_validated(Role, rep, f"overlay role {name!r}"))
        self.realm.forget_lookups()

    def _record_user(self, username: str, user: User | None) -> None:
        rep = None if user is None else user.model_dump(by_alias=True, exclude_none=True)
        self._version = self.store.record_user(username, rep)
        self.realm.forget_lookups()

    # -- users --------------------------------------------------------------------

    def users(self) -> list[User]:
        """Login users, by username (Keycloak lists no service-account users)."""
        return sorted((u for u in self.realm.user_list if not u.service_account_client_id), key=lambda u: u.username)

    def user(self, user_id: str) -> User:
        for user in self.realm.user_list:
            if self.realm.user_id(user) == user_id and not user.service_account_client_id:
                return user
        raise admin_not_found("User not found")

    def create_user(self, rep: dict[str, Any]) -> User:
        username = rep.get("username")
        if not isinstance(username, str) or not username.strip():
            raise admin_bad_request("User name is missing")
        data = {k: v for k, v in rep.items() if k not in _IGNORED_ON_WRITE and k not in ("credentials", "attributes")}
        data |= {
            "username": username.strip().lower(),
            "id": str(uuid.uuid4()),
            "createdTimestamp": int(self.clock.now() * 1000),
        }
        data["credentials"] = _password_credentials(rep.get("credentials"))
        # New users get the realm's default role (users imported from the file do not).
        data["realmRoles"] = [self.realm.default_role_name]
        user = _parsed(data)
        if user.username in self.realm.users:
            raise admin_conflict("User exists with same username")
        self._check_email_free(user, None)
        self.realm.user_list.append(user)
        self._record_user(user.username, user)
        return user

    def update_user(self, user: User, rep: dict[str, Any]) -> User:
        username = rep.get("username")
        if username is not None and str(username).lower() != user.username:
            # Keycloak's default (editUsernameAllowed=false).
            raise admin_bad_request("error-user-attribute-read-only", "username")
        data = user.model_dump(by_alias=True, exclude_none=True) | {k: rep[k] for k in _EDITABLE if k in rep}
        # Keycloak 26 writes the whole user profile: a name or email the update leaves out
        # is removed, not kept.
        for key in _PROFILE:
            if key not in rep:
                data.pop(key, None)
        if rep.get("credentials") is not None:
            data["credentials"] = _password_credentials(rep["credentials"])
        updated = _parsed(data)
        self._check_email_free(updated, user)
        return self._replace(user, updated)

    def reset_password(self, user: User, rep: dict[str, Any]) -> User:
        if rep.get("type", "password") != "password":
            raise admin_bad_request("Unsupported credential type", "type")
        value = rep.get("value")
        if not isinstance(value, str) or not value:
            raise admin_bad_request("Password must not be empty", "value")
        temporary = rep.get("temporary", False)
        if not isinstance(temporary, bool):
            raise admin_bad_request("temporary must be a boolean", "temporary")
        others = [c for c in user.credentials if c.type != "password"]
        return self._replace(
            user,
            user.model_copy(
                update={"credentials": [*others, Credential(type="password", value=value, temporary=temporary)]}
            ),
        )

    def delete_user(self, user: User) -> None:
        self.realm.user_list.remove(user)
        self.store.forget_user(user.username, self.realm.user_id(user))
        self._record_user(user.username, None)

    def _replace(self, old: User, new: User) -> User:
        self.realm.user_list[self.realm.user_list.index(old)] = new
        self._record_user(new.username, new)
        return new

    def _check_email_free(self, user: User, previous: User | None) -> None:
        if not user.email:
            return
        for other in self.realm.user_list:
            if (
                other is not previous
                and other.username != user.username
                and (other.email or "").lower() == user.email.lower()
            ):
                raise admin_conflict("User exists with same email")

    # -- realm roles -----------------------------------------------------------------

    def roles(self) -> list[Role]:
        """The file's realm roles plus the ones Keycloak creates in every realm."""
        declared = list(self.realm.roles.realm)
        names = {role.name for role in declared}
        builtins = [
            Role(
                name=self.realm.default_role_name,
                description="${role_default-roles}",
                composite=True,
                composites=RoleComposites(realm=list(DEFAULT_ROLE_COMPOSITES)),
            ),
            Role(name="offline_access", description="${role_offline-access}"),
            Role(name="uma_authorization", description="${role_uma_authorization}"),
        ]
        return declared + [role for role in builtins if role.name not in names]

    def role(self, name: str) -> Role:
        for role in self.roles():
            if role.name == name:
                return role
        raise admin_not_found("Could not find role")

    def role_id(self, role: Role) -> str:
        return role.id or self.realm.stable_id("role", role.name)

    def create_role(self, rep: dict[str, Any]) -> Role:
        name = rep.get("name")
        if not isinstance(name, str) or not name.strip():
            raise admin_bad_request("Role name is required", "name")
        if any(role.name == name for role in self.roles()):
            raise admin_conflict(f"Role with name {name} already exists")
        data = {k: v for k, v in rep.items() if k in ("name", "description", "attributes")}
        role = _validated(Role, data | {"id": str(uuid.uuid4())}, None)[0]
        self.realm.roles.realm.append(role)
        self._version = self.store.record_role(name, role.model_dump(by_alias=True, exclude_none=True))
        return role

    def direct_roles(self, user: User) -> list[Role]:
        """A user's direct realm-role mappings."""
        names = list(user.realm_roles)
        return [role for role in self.roles() if role.name in names]

    def map_roles(self, user: User, reps: object, *, add: bool) -> User:
        wanted = [self._mapped_role(rep).name for rep in _role_list(reps)]
        current = list(user.realm_roles)
        if add:
            current += [name for name in wanted if name not in current]
        else:
            current = [name for name in current if name not in wanted]
        return self._replace(user, user.model_copy(update={"realm_roles": current}))

    def _mapped_role(self, rep: dict[str, Any]) -> Role:
        # Keycloak looks the role up by name and insists the id matches too.
        role = next((r for r in self.roles() if r.name == rep.get("name")), None)
        if role is None or rep.get("id") != self.role_id(role):
            raise admin_not_found("Role not found")
        return role


def _role_list(reps: object) -> list[dict[str, Any]]:
    if not isinstance(reps, list) or not all(isinstance(rep, dict) for rep in reps):
        raise admin_bad_request("Expected a JSON array of role representations")
    return reps


def _password_credentials(raw: object) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        raise admin_bad_request("credentials must be an array of credential representations", "credentials")
    return [
        {"type": "password", "value": c["value"], "temporary": bool(c.get("temporary", False))}
        for c in raw
        if c.get("type", "password") == "password" and c.get("value")
    ]


def _parsed(data: dict[str, Any]) -> User:
    try:
        return User.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = json_path(error["loc"]).removeprefix("$.")
        raise admin_bad_request(f"{field}: {error['msg']}", field) from None


def _validated(model: type[ModelT], rep: object, what: str | None) -> list[ModelT]:
    """``[model]`` from a stored representation; a bad overlay entry is skipped with a warning."""
    try:
        return [model.model_validate(rep)]
    except ValidationError as exc:
        if what is None:
            raise admin_bad_request(str(exc.errors()[0]["msg"])) from None
        log.warning("state file: ignoring %s: %s", what, exc.errors()[0]["msg"])
        return []
