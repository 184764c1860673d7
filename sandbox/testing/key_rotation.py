"""Signing in after ``idp.rotate_keys()``: FastMCP's JWKS refresh window, named in one line.

FastMCP's proxy verifies each upstream token against the IdP's JWKS, and fetches that again
at most once per ``jwks_refresh_interval`` (30 s). A key rotated shortly after a fetch means
tokens signed with the new key are refused until the window has passed; the client then
fails with a long ``MCPError`` that names no cause. ``SignInClient`` names it instead.
"""

from __future__ import annotations

import time
from typing import Any

from fastmcp import Client
from fastmcp.client.transports import ClientTransport

# FastMCP's JWTVerifier default; tests/plugin/test_key_rotation.py fails when it changes.
JWKS_REFRESH_INTERVAL = 30.0


class JWKSRefreshWindowError(RuntimeError):
    """A sign-in refused while the proxy may not yet refetch the JWKS after a key rotation."""


class KeyRotations:
    """When the session's tests last rotated the IdP's signing key."""

    def __init__(self) -> None:
        self.last: float | None = None

    def rotated(self) -> None:
        self.last = time.monotonic()

    def refusal(self, user: str, cause: BaseException) -> str | None:
        """The one-line reason for a failed sign-in, if it came within the window of a rotation."""
        if self.last is None:
            return None
        ago = time.monotonic() - self.last
        if ago >= JWKS_REFRESH_INTERVAL:
            return None
        return (
            f"sign-in as {user!r} failed {ago:.1f} s after idp.rotate_keys(): FastMCP's proxy fetches the IdP's "
            f"JWKS again at most once per {JWKS_REFRESH_INTERVAL:g} s (jwks_refresh_interval), so it refuses tokens "
            f"signed with the new key until then; rotate keys after the test's last sign-in, or sign in "
            f"{JWKS_REFRESH_INTERVAL - ago:.0f} s later (the client saw {type(cause).__name__}: {cause})"
        )


class SignInClient(Client[ClientTransport]):
    """``fastmcp.Client`` whose sign-in failure right after a key rotation says why, in one line."""

    def __init__(self, *args: Any, user: str, rotations: KeyRotations, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._user = user
        self._rotations = rotations

    async def __aenter__(self) -> SignInClient:
        try:
            # FastMCP's Client.__aenter__ carries no annotations (untyped_calls_exclude misses super()).
            await super().__aenter__()  # type: ignore[no-untyped-call]
            return self
        except Exception as exc:
            reason = self._rotations.refusal(self._user, exc)
            if reason is None:
                raise
            raise JWKSRefreshWindowError(reason) from None
