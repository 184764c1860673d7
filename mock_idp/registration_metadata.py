"""A DCR request body (RFC 7591 §2) as Keycloak 26.7's ``OIDCClientRepresentation`` reads it.

Keycloak binds the body with Jackson: a field it does not know is refused with the line and
column Jackson stopped at, a value of the wrong JSON type is "Cannot parse the JSON", and
what parses but cannot become a client is "Client metadata invalid". The model here is that
representation, ``extra="forbid"``, and :func:`parse_metadata` turns pydantic's findings
into Keycloak's answers (the fidelity recording pins each text).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse

from mock_idp.bodies import TooDeep, loads_bounded
from mock_idp.client_auth import AUTH_METHODS as SECRET_METHODS
from mock_idp.errors import NO_STORE, OAuthError

# What the mock can authenticate or record a client for (client_secret_jwt clients get a
# secret, as in Keycloak; the mock's token endpoint takes it by basic or post only).
AUTH_METHODS = ("none", *SECRET_METHODS, "client_secret_jwt")
RESPONSE_TYPES = ("code", "none")


class ClientMetadata(BaseModel):
    """The OIDCClientRepresentation fields of Keycloak 26.7 (unknown ones are refused)."""

    # defer_build: its validator is built at the first registration, not at every start-up.
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    redirect_uris: list[str] = Field(default_factory=list)
    token_endpoint_auth_method: str = "client_secret_basic"
    token_endpoint_auth_signing_alg: str | None = None
    grant_types: list[str] = Field(default_factory=lambda: ["authorization_code", "refresh_token"])
    response_types: list[str] = Field(default_factory=lambda: ["code"])
    client_id: str | None = None
    client_secret: str | None = None
    client_name: str | None = None
    client_uri: str | None = None
    logo_uri: str | None = None
    scope: str | None = None
    contacts: list[str] | None = None
    tos_uri: str | None = None
    policy_uri: str | None = None
    jwks_uri: str | None = None
    jwks: dict[str, Any] | None = None
    software_id: str | None = None
    software_version: str | None = None
    software_statement: str | None = None
    client_id_issued_at: int | None = None
    client_secret_expires_at: int | None = None
    registration_client_uri: str | None = None
    registration_access_token: str | None = None
    application_type: str | None = None
    sector_identifier_uri: str | None = None
    subject_type: str | None = None
    id_token_signed_response_alg: str | None = None
    id_token_encrypted_response_alg: str | None = None
    id_token_encrypted_response_enc: str | None = None
    userinfo_signed_response_alg: str | None = None
    userinfo_encrypted_response_alg: str | None = None
    userinfo_encrypted_response_enc: str | None = None
    request_object_signing_alg: str | None = None
    request_object_encryption_alg: str | None = None
    request_object_encryption_enc: str | None = None
    request_uris: list[str] | None = None
    default_max_age: int | None = None
    require_auth_time: bool | None = None
    default_acr_values: list[str] | None = None
    initiate_login_uri: str | None = None
    post_logout_redirect_uris: list[str] | None = None
    frontchannel_logout_uri: str | None = None
    frontchannel_logout_session_required: bool | None = None
    backchannel_logout_uri: str | None = None
    backchannel_logout_session_required: bool | None = None
    backchannel_logout_revoke_offline_tokens: bool | None = None
    tls_client_auth_subject_dn: str | None = None
    tls_client_certificate_bound_access_tokens: bool | None = None
    dpop_bound_access_tokens: bool | None = None
    require_pushed_authorization_requests: bool | None = None
    authorization_signed_response_alg: str | None = None
    authorization_encrypted_response_alg: str | None = None
    authorization_encrypted_response_enc: str | None = None

    @property
    def public(self) -> bool:
        return self.token_endpoint_auth_method == "none"


class UnboundField(OAuthError):
    """Keycloak's answer to a field it does not know: ``{"error": <Jackson's message>}``, no description."""

    def __init__(self, message: str) -> None:
        super().__init__(message, message, 400)

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.error}, status_code=self.status_code, headers=NO_STORE)


def cannot_parse(error: str) -> OAuthError:
    return OAuthError(error, "Cannot parse the JSON", 400)


def parse_metadata(body: bytes) -> ClientMetadata:
    """The body as Keycloak binds it, or the OAuthError Keycloak answers."""
    try:
        data = loads_bounded(body)
    except TooDeep as exc:
        raise OAuthError("invalid_client_metadata", f"JSON request body {exc}") from None
    except (UnicodeDecodeError, ValueError):
        raise cannot_parse("invalid_request") from None
    if not isinstance(data, dict):
        raise cannot_parse("unknown_error")
    unknown = next((name for name in data if name not in ClientMetadata.model_fields), None)
    if unknown is not None:
        line, column = _end_of_document(body)
        message = (
            f'Invalid json representation for OIDCClientRepresentation. Unrecognized field "{unknown}" '
            f"at line {line} column {column}."
        )
        raise UnboundField(message)
    try:
        metadata = ClientMetadata.model_validate(data)
    except ValidationError:
        raise cannot_parse("unknown_error") from None
    invalid = metadata.token_endpoint_auth_method not in AUTH_METHODS or any(
        kind not in RESPONSE_TYPES for kind in metadata.response_types
    )
    if invalid:
        raise OAuthError("invalid_client_metadata", "Client metadata invalid", 400)
    return metadata


def _end_of_document(body: bytes) -> tuple[int, int]:
    """Where Jackson reports an unknown field: Keycloak reads the whole tree first, so at
    the document's last token (1-based line and column)."""
    text = body.decode("utf-8").rstrip()
    last = len(text) - 1
    line_start = text.rfind("\n", 0, last) + 1
    return text.count("\n", 0, last) + 1, last - line_start + 1
