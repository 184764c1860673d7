"""RS256 signing key: persisted in the state directory, published as a JWKS.

Keeping the key across restarts is what lets tokens issued before a restart
still validate afterwards.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from mock_idp.persist import move_aside, write_atomic

log = logging.getLogger("mock_idp")

KEY_FILE = "rs256-private-key.pem"
ALGORITHM = "RS256"


class KeyStore:
    """The realm's single active signing key."""

    def __init__(self, key: RSAKey) -> None:
        self.key = key
        self.kid = key.thumbprint()

    @classmethod
    def load_or_create(cls, state_dir: Path) -> "KeyStore":
        path = state_dir / KEY_FILE
        if path.exists():
            try:
                return cls(RSAKey.import_key(path.read_bytes()))
            except (OSError, ValueError, JoseError) as exc:
                moved = move_aside(path)
                log.warning("signing key %s is unreadable (%s); kept it as %s and generated a new key", path, exc, moved.name)
        key = RSAKey.generate_key(2048, private=True)
        write_atomic(path, key.as_pem(private=True), mode=0o600)
        return cls(key)

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode({"alg": ALGORITHM, "typ": "JWT", "kid": self.kid}, claims, self.key, algorithms=[ALGORITHM])

    def verify(self, token: str) -> dict[str, Any] | None:
        """Claims of a token this key signed, or ``None`` for anything else.

        Expiry and token type are the caller's business (it owns the clock)."""
        if not isinstance(token, str) or token.count(".") != 2 or len(token) > 16384:
            return None
        try:
            decoded = jwt.decode(token, self.key, algorithms=[ALGORITHM])
        except (JoseError, ValueError, TypeError):
            return None
        if decoded.header.get("kid") != self.kid or not isinstance(decoded.claims, dict):
            return None
        return decoded.claims

    def jwks(self) -> dict[str, Any]:
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}]}


def default_state_dir(realm_name: str) -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("mcp-oauth-sandbox")) / "mock-idp" / realm_name


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path
