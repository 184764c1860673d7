"""Token issuance: a Keycloak 26.7 token response (access, ID, refresh or offline token).

What claims each token carries comes from the realm's mappers (:mod:`mock_idp.mappers`);
this module fixes the envelope Keycloak writes around them and the signature: RS256 for
the access and ID tokens (in the JWKS), HS512 under the realm's secret for refresh and
offline tokens, which only the realm reads (:meth:`mock_idp.keys.KeyStore.sign_secret`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mock_idp.faults import WRONG_AUDIENCE, WRONG_ISSUER
from mock_idp.mappers import Subject, applied_scopes, at_hash, mapper_claims, scope_claim
from mock_idp.realm import Client, ClientScope, Realm, User
from mock_idp.signing import active_key, sign_with, still_published
from mock_idp.store import ClientSession, UserSession

if TYPE_CHECKING:
    from mock_idp.idp import IdentityProvider

OFFLINE_SCOPE = "offline_access"
# Keycloak 26.7 prefixes an access token's jti with its session kind (online "on", offline
# "of") and the grant that issued it: "onrtac:", "ofrtrt:"...
_GRANT_CODES = {"authorization_code": "ac", "password": "ro", "refresh_token": "rt"}
# Keycloak's refresh-token provider, named in every refresh token's "prov" claim.
REFRESH_PROVIDER = "default"


@dataclass(frozen=True)
class Issue:
    """What one token response is about: who, through which client, with which scopes."""

    realm: Realm
    client: Client
    user: User
    session: UserSession | None
    scopes: list[ClientScope]
    subject: Subject
    scope: str  # the scope claim of the access token
    envelope: dict[str, Any]  # iat, iss, azp, sid
    extra: dict[str, Any]  # the x-mock per-user claims
    wrong_audience: bool

    @property
    def offline(self) -> bool:
        """Keycloak issues an offline token when the offline_access client scope applies."""
        return any(scope.name == OFFLINE_SCOPE for scope in self.scopes)


def jti_prefix(grant: str | None, offline: bool) -> str:
    code = _GRANT_CODES.get(grant or "")
    return f"{'of' if offline else 'on'}rt{code}:" if code else ""


async def issue_tokens(
    idp: IdentityProvider,
    client: Client,
    user: User,
    session: UserSession | None,
    requested_scope: str,
    *,
    nonce: str | None = None,
    acr: str = "1",
    with_refresh: bool = True,
    grant: str | None = None,
) -> dict[str, Any]:
    """A Keycloak token response for ``user`` via ``client``; ``grant`` (the grant_type)
    picks the access token's ``jti`` prefix, as Keycloak 26.7 writes it.

    Every read and write of state comes before the first signature: the RSA signatures are
    awaited off the event loop (:func:`mock_idp.signing.sign_off_loop`), and other requests run
    meanwhile, so this request's state change stays one step, as it was with the loop held."""
    # The client session first: a token counts as its session's only if iat >= the
    # session's start, and a second may tick over while this runs.
    client_session = idp.store.client_session(session.sid, client.client_id) if session is not None else None
    issue = _issue(idp, client, user, session, requested_scope, acr)
    access = _access_claims(idp, issue, grant)
    refresh = None
    if with_refresh and session is not None and client_session is not None:
        refresh = _refresh_token(idp, issue, session, client_session, access)
    access_token, id_token = await _signed(idp, issue, access, "openid" in requested_scope.split(), nonce)
    response: dict[str, Any] = {
        "access_token": access_token,
        "expires_in": idp.access_token_lifespan,
        "refresh_expires_in": 0,
        "token_type": "Bearer",
    }
    if id_token is not None:
        response["id_token"] = id_token
    if refresh is not None:
        response |= refresh
    response["not-before-policy"] = 0
    if session is not None:
        response["session_state"] = session.sid
    response["scope"] = issue.scope
    return response


async def _signed(
    idp: IdentityProvider, issue: Issue, access: dict[str, Any], openid: bool, nonce: str | None
) -> tuple[str, str | None]:
    """The access token and (for ``openid``) the ID token, under one key:
    a client may check that they share a kid, and each must verify against the JWKS."""
    key = active_key(idp.keys)
    access_token = await sign_with(key, access)
    id_token = None
    if openid:
        id_token = await sign_with(key, _id_claims(issue, access, access_token, nonce))
    if still_published(idp.keys, key):
        return access_token, id_token
    # A rotation dropped the key during a hop: sign both again on the loop, where none can
    # come between them (rare: an admin action), so both carry the current kid.
    access_token = idp.keys.sign(access)
    if openid:
        id_token = idp.keys.sign(_id_claims(issue, access, access_token, nonce))
    return access_token, id_token


def _issue(
    idp: IdentityProvider, client: Client, user: User, session: UserSession | None, requested_scope: str, acr: str
) -> Issue:
    realm = idp.realm
    scopes = applied_scopes(realm, client, requested_scope)
    subject = Subject(
        user=user,
        sub=realm.user_id(user),
        roles=realm.effective_roles(user),
        auth_time=session.auth_time if session else None,
        acr=acr,
    )
    wrong_issuer = idp.faults.take("token", ("wrong_issuer",)) is not None
    envelope: dict[str, Any] = {
        "iat": idp.clock.now_int(),
        "iss": WRONG_ISSUER if wrong_issuer else idp.issuer,
        "azp": client.client_id,
    }
    if session is not None:
        envelope["sid"] = session.sid
    return Issue(
        realm=realm,
        client=client,
        user=user,
        session=session,
        scopes=scopes,
        subject=subject,
        scope=scope_claim(scopes, requested_scope),
        envelope=envelope,
        extra=idp.store.extra_claims(subject.sub),
        wrong_audience=idp.faults.take("token", ("wrong_audience",)) is not None,
    )


def _access_claims(idp: IdentityProvider, issue: Issue, grant: str | None) -> dict[str, Any]:
    access = {
        "exp": issue.envelope["iat"] + idp.access_token_lifespan,
        "jti": jti_prefix(grant, issue.offline) + _jti(),
        **issue.envelope,
        "typ": "Bearer",
    }
    access.update(mapper_claims(issue.realm, issue.client, issue.scopes, issue.subject, "access"))
    access["scope"] = issue.scope
    access.update(issue.extra)
    if issue.wrong_audience:
        access["aud"] = WRONG_AUDIENCE
    return access


def _id_claims(issue: Issue, access: dict[str, Any], access_token: str, nonce: str | None) -> dict[str, Any]:
    claims = {
        "exp": access["exp"],
        "jti": _jti(),
        **issue.envelope,
        "aud": issue.client.client_id,
        "sub": issue.subject.sub,
        "typ": "ID",
    }
    if issue.subject.auth_time is not None:
        claims["auth_time"] = issue.subject.auth_time
    if nonce:
        claims["nonce"] = nonce
    claims["at_hash"] = at_hash(access_token)
    mapped = mapper_claims(issue.realm, issue.client, issue.scopes, issue.subject, "id")
    claims.update({key: value for key, value in mapped.items() if key != "aud"})
    claims.update(issue.extra)
    if issue.wrong_audience:
        claims["aud"] = WRONG_AUDIENCE
    return claims


def _refresh_token(
    idp: IdentityProvider,
    issue: Issue,
    session: UserSession,
    client_session: ClientSession,
    access: dict[str, Any],
) -> dict[str, Any]:
    """Keycloak's refresh token (or offline token, with no ``exp``), HS512-signed."""
    # It names every client scope it carries, token-scope or not.
    scope = " ".join(dict.fromkeys(issue.scope.split() + [each.name for each in issue.scopes]))
    claims: dict[str, Any] = {"jti": _jti(), **issue.envelope, "aud": issue.envelope["iss"], "sub": issue.subject.sub}
    claims |= {"typ": "Offline" if issue.offline else "Refresh", "scope": scope}
    if "aud" in access:
        # The access token's audience, so a refresh can check it without the session.
        claims["aud_x"] = access["aud"]
    claims |= {"prov": REFRESH_PROVIDER, "reuse_id": _jti()}
    expires_in = 0  # an offline token has no expiry: its session does
    if not issue.offline:
        claims["exp"] = idp.refresh_expiry(session)
        expires_in = claims["exp"] - issue.envelope["iat"]
    idp.store.record_refresh_token(client_session, claims["jti"])
    return {"refresh_token": idp.keys.sign_secret(claims), "refresh_expires_in": expires_in}


def _jti() -> str:
    return str(uuid.uuid4())
