"""``--upstream-token``: a short-lived JWT minted for the upstream, so it can verify identity itself.

The client's token never goes upstream (token passthrough is forbidden by the MCP spec);
this one is the sandbox's own, issued per call: ``iss`` is the sandbox, ``aud`` is the
upstream URL (an upstream refuses tokens meant for another server), it lives
``LIFETIME`` seconds, and it is signed with an RSA key kept in the state directory whose
public half the sandbox serves at ``JWKS_PATH``.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.upstream.identity import claim_value

JWKS_PATH = "/sandbox/upstream/jwks.json"
LIFETIME = 60
KEY_FILE = "upstream-token-key.json"


def load_or_create_key(state_dir: Path) -> RSAKey:
    """The signing key, made once per state directory, so tokens verify across restarts."""
    path = state_dir / KEY_FILE
    try:
        return RSAKey.import_key(json.loads(path.read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        pass
    key = RSAKey.generate_key(
        2048, parameters={"kid": secrets.token_urlsafe(8), "use": "sig", "alg": "RS256"}, private=True
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(key.as_dict(private=True), handle)
    os.replace(temporary, path)
    return key


class UpstreamTokenMinter:
    def __init__(self, key: RSAKey, issuer: str, audience: str) -> None:
        self.key = key
        self.issuer = issuer
        self.audience = audience

    def mint(self, claims: Mapping[str, Any], scopes: Iterable[str], now: float | None = None) -> str:
        issued = int(time.time() if now is None else now)
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": claims.get("sub"),
            "preferred_username": claims.get("preferred_username"),
            "email": claims.get("email"),
            "roles": [role for role in claim_value(claims, scopes, "roles").split(",") if role],
            "scope": claim_value(claims, scopes, "scopes"),
            "iat": issued,
            "exp": issued + LIFETIME,
            "jti": secrets.token_urlsafe(12),
        }
        payload = {name: value for name, value in payload.items() if value is not None}
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key.kid}
        return jwt.encode(header, payload, self.key)

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    def jwks_route(self) -> Route:
        async def jwks(request: Request) -> JSONResponse:
            return JSONResponse(self.jwks(), headers={"Cache-Control": "max-age=300"})

        return Route(JWKS_PATH, endpoint=jwks, methods=["GET"])
