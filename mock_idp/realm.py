"""A Keycloak realm as the mock serves it: the realm export's models and the lookups on them.

The mock reads the very file Keycloak imports (``--import-realm``), so every user, role,
client and mapper it serves comes from that file; reading and checking the file is
:mod:`mock_idp.realm_file`'s.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from mock_idp.defaults import (
    BUILTIN_CLIENT_SCOPES,
    DEFAULT_CLIENT_SCOPES,
    DEFAULT_REGISTRATION_POLICIES,
    DEFAULT_ROLE_COMPOSITES,
)
from mock_idp.json_model import JsonModel, alias

REGISTRATION_POLICY_TYPE = "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy"


@dataclass(kw_only=True)
class ProtocolMapper(JsonModel):
    name: str
    protocol: str = "openid-connect"
    protocol_mapper: str = field(metadata=alias("protocolMapper"))
    consent_required: bool = field(default=False, metadata=alias("consentRequired"))
    config: dict[str, str] = field(default_factory=dict)
    id: str | None = None

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.config.get(key)
        return default if value is None else value.lower() == "true"


@dataclass(kw_only=True)
class ClientScope(JsonModel):
    name: str
    protocol: str = "openid-connect"
    description: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    protocol_mappers: list[ProtocolMapper] = field(default_factory=list, metadata=alias("protocolMappers"))
    id: str | None = None

    @property
    def include_in_token_scope(self) -> bool:
        return self.attributes.get("include.in.token.scope", "true").lower() == "true"


@dataclass(kw_only=True)
class Client(JsonModel):
    client_id: str = field(metadata=alias("clientId"))
    name: str | None = None
    description: str | None = None
    enabled: bool = True
    public: bool = field(default=False, metadata=alias("publicClient"))
    secret: str | None = None
    client_authenticator_type: str = field(default="client-secret", metadata=alias("clientAuthenticatorType"))
    redirect_uris: list[str] = field(default_factory=list, metadata=alias("redirectUris"))
    web_origins: list[str] = field(default_factory=list, metadata=alias("webOrigins"))
    standard_flow: bool = field(default=True, metadata=alias("standardFlowEnabled"))
    implicit_flow: bool = field(default=False, metadata=alias("implicitFlowEnabled"))
    direct_access_grants: bool = field(default=False, metadata=alias("directAccessGrantsEnabled"))
    service_accounts: bool = field(default=False, metadata=alias("serviceAccountsEnabled"))
    consent_required: bool = field(default=False, metadata=alias("consentRequired"))
    full_scope_allowed: bool = field(default=True, metadata=alias("fullScopeAllowed"))
    protocol: str = "openid-connect"
    attributes: dict[str, str] = field(default_factory=dict)
    protocol_mappers: list[ProtocolMapper] = field(default_factory=list, metadata=alias("protocolMappers"))
    default_client_scopes: list[str] | None = field(default=None, metadata=alias("defaultClientScopes"))
    optional_client_scopes: list[str] | None = field(default=None, metadata=alias("optionalClientScopes"))
    id: str | None = None

    @property
    def pkce_method(self) -> str | None:
        """``S256``/``plain`` when the client enforces PKCE, else ``None``."""
        return self.attributes.get("pkce.code.challenge.method") or None

    @property
    def post_logout_redirect_uris(self) -> list[str]:
        # Keycloak: "+" means "same as the redirect URIs"; entries are "##"-separated.
        raw = self.attributes.get("post.logout.redirect.uris", "")
        uris: list[str] = []
        for item in filter(None, raw.split("##")):
            uris.extend(self.redirect_uris if item == "+" else [item])
        return uris


@dataclass(kw_only=True)
class Credential(JsonModel):
    type: str
    value: str | None = None
    temporary: bool = False


@dataclass(kw_only=True)
class User(JsonModel):
    username: str
    enabled: bool = True
    email: str | None = None
    email_verified: bool = field(default=False, metadata=alias("emailVerified"))
    first_name: str | None = field(default=None, metadata=alias("firstName"))
    last_name: str | None = field(default=None, metadata=alias("lastName"))
    credentials: list[Credential] = field(default_factory=list)
    realm_roles: list[str] = field(default_factory=list, metadata=alias("realmRoles"))
    attributes: dict[str, list[str]] = field(default_factory=dict)
    service_account_client_id: str | None = field(default=None, metadata=alias("serviceAccountClientId"))
    created_timestamp: int | None = field(default=None, metadata=alias("createdTimestamp"))
    id: str | None = None

    @property
    def password(self) -> str | None:
        credential = self.password_credential
        return credential.value if credential else None

    @property
    def password_credential(self) -> Credential | None:
        for credential in self.credentials:
            if credential.type == "password":
                return credential
        return None


@dataclass(kw_only=True)
class RoleComposites(JsonModel):
    realm: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Role(JsonModel):
    name: str
    description: str | None = None
    composite: bool = False
    composites: RoleComposites | None = None
    id: str | None = None


@dataclass(kw_only=True)
class Roles(JsonModel):
    realm: list[Role] = field(default_factory=list)


@dataclass(kw_only=True)
class RegistrationPolicy(JsonModel):
    name: str
    provider_id: str = field(metadata=alias("providerId"))
    sub_type: str = field(default="anonymous", metadata=alias("subType"))
    config: dict[str, list[str]] = field(default_factory=dict)
    id: str | None = None

    def values(self, key: str) -> list[str]:
        return self.config.get(key, [])

    def flag(self, key: str, default: bool) -> bool:
        values = self.config.get(key)
        return default if not values else values[0].lower() == "true"


@dataclass(kw_only=True)
class Components(JsonModel):
    registration_policies: list[RegistrationPolicy] = field(
        default_factory=list, metadata=alias(REGISTRATION_POLICY_TYPE)
    )


@dataclass(kw_only=True)
class Realm(JsonModel):
    """A Keycloak realm as the mock serves it."""

    name: str = field(metadata=alias("realm"))
    id: str | None = None
    enabled: bool = True
    display_name: str | None = field(default=None, metadata=alias("displayName"))
    ssl_required: str = field(default="external", metadata=alias("sslRequired"))
    access_token_lifespan: int = field(default=300, metadata=alias("accessTokenLifespan"))
    access_code_lifespan: int = field(default=60, metadata=alias("accessCodeLifespan"))
    access_code_lifespan_login: int = field(default=1800, metadata=alias("accessCodeLifespanLogin"))
    sso_session_idle_timeout: int = field(default=1800, metadata=alias("ssoSessionIdleTimeout"))
    sso_session_max_lifespan: int = field(default=36000, metadata=alias("ssoSessionMaxLifespan"))
    revoke_refresh_token: bool = field(default=False, metadata=alias("revokeRefreshToken"))
    refresh_token_max_reuse: int = field(default=0, metadata=alias("refreshTokenMaxReuse"))
    roles: Roles = field(default_factory=Roles)
    user_list: list[User] = field(default_factory=list, metadata=alias("users"))
    client_list: list[Client] = field(default_factory=list, metadata=alias("clients"))
    client_scope_list: list[ClientScope] | None = field(default=None, metadata=alias("clientScopes"))
    default_default_client_scopes: list[str] | None = field(default=None, metadata=alias("defaultDefaultClientScopes"))
    default_optional_client_scopes: list[str] | None = field(
        default=None, metadata=alias("defaultOptionalClientScopes")
    )
    components: Components = field(default_factory=Components)

    # -- lookups ----------------------------------------------------------------

    @cached_property
    def clients(self) -> dict[str, Client]:
        return {client.client_id: client for client in self.client_list}

    @cached_property
    def users(self) -> dict[str, User]:
        return {user.username: user for user in self.user_list}

    @cached_property
    def client_scopes(self) -> dict[str, ClientScope]:
        """Declared scopes, or Keycloak's built-ins when the file declares none
        (Keycloak creates them on import in exactly that case)."""
        scopes = self.client_scope_list
        if scopes is None:
            scopes = [ClientScope.model_validate(raw) for raw in BUILTIN_CLIENT_SCOPES]
        return {scope.name: scope for scope in scopes}

    @cached_property
    def registration_policies(self) -> list[RegistrationPolicy]:
        """Anonymous DCR policies: the file's, or Keycloak's defaults if it declares none."""
        declared = self.components.registration_policies
        if not declared:
            declared = [RegistrationPolicy.model_validate(raw) for raw in DEFAULT_REGISTRATION_POLICIES]
        return [policy for policy in declared if policy.sub_type == "anonymous"]

    @property
    def default_role_name(self) -> str:
        return f"default-roles-{self.name.lower()}"

    @property
    def realm_default_scopes(self) -> list[str]:
        """What a client that lists none gets by default (``defaultDefaultClientScopes``)."""
        if self.default_default_client_scopes is not None:
            return list(self.default_default_client_scopes)
        return list(DEFAULT_CLIENT_SCOPES)

    @property
    def realm_optional_scopes(self) -> list[str]:
        return list(self.default_optional_client_scopes or [])

    def default_scopes_for(self, client: Client) -> list[str]:
        if client.default_client_scopes is not None:
            return client.default_client_scopes
        return [] if client.optional_client_scopes is not None else self.realm_default_scopes

    def optional_scopes_for(self, client: Client) -> list[str]:
        # Keycloak's import gives the realm's defaults only to a client that lists neither
        # kind: one that lists its default scopes has no optional ones unless it lists them.
        if client.optional_client_scopes is not None:
            return client.optional_client_scopes
        return [] if client.default_client_scopes is not None else self.realm_optional_scopes

    def invalid_scopes(self, client: Client, requested: str) -> bool:
        """Whether ``requested`` names a scope the client has neither as default nor optional."""
        allowed = {"openid", *self.default_scopes_for(client), *self.optional_scopes_for(client)}
        return any(name not in allowed for name in requested.split())

    def effective_roles(self, user: User) -> list[str]:
        """The user's realm roles, composites expanded.

        A real Keycloak 26 grants users imported from a realm file only the roles the
        file lists; the default role goes to users created later (admin API).
        """
        declared = {role.name: role for role in self.roles.realm}
        pending = list(user.realm_roles)
        seen: list[str] = []
        while pending:
            name = pending.pop(0)
            if name in seen:
                continue
            seen.append(name)
            role = declared.get(name)
            if role is not None and role.composites is not None:
                pending.extend(role.composites.realm)
            elif name == self.default_role_name and role is None:
                pending.extend(DEFAULT_ROLE_COMPOSITES)
        return seen

    def user_id(self, user: User) -> str:
        """``sub``: the file's ``id`` if given, else a UUID stable per realm and user."""
        return user.id or self.stable_id("user", user.username)

    def stable_id(self, kind: str, name: str) -> str:
        """A UUID for a realm object the file gives no ``id``, the same on every start."""
        return _stable_id(self.name, kind, name)

    def forget_lookups(self) -> None:
        """Drop the cached lookup dicts after the admin API changed users or clients."""
        for name in ("users", "clients"):
            self.__dict__.pop(name, None)

    @cached_property
    def unknown_fields(self) -> list[str]:
        """JSON paths of what the file sets and the mock does not implement (one start-up warning)."""
        # Imported here: realm_file reads these models, and the mapper and policy registries.
        from mock_idp.realm_file import unknown_fields

        return unknown_fields(self)


@lru_cache(maxsize=4096)
def _stable_id(realm: str, kind: str, name: str) -> str:
    # A pure function, asked on every token (the sub of a user the file gives no id).
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"mock-idp:{realm}:{kind}:{name}"))
