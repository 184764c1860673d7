"""The proxy's issuer identifier, without the trailing slash pydantic gives a bare origin.

FastMCP 4.2.3 keeps ``issuer_url`` as a pydantic ``AnyHttpUrl``, which renders
``http://localhost:8000`` as ``http://localhost:8000/``: that string lands in the
authorization-server metadata, the protected-resource metadata, every token's ``iss`` and
the RFC 9207 ``iss`` response parameter. Clients that were given the URL without the slash
(the conformance suite, for one) then see an issuer that is not the one they asked for.
FastMCP serialises and prints the URL through ``str()`` everywhere, so one ``__str__`` fixes
all four, byte-identical. ``tests/sandbox/test_bare_issuer.py`` fails once FastMCP stops adding
the slash, so this can go.
"""

from __future__ import annotations

from pydantic import AnyHttpUrl


class BareIssuer(AnyHttpUrl):
    """``AnyHttpUrl`` whose text form has no trailing slash on an empty path."""

    def __str__(self) -> str:
        text = super().__str__()
        return text[:-1] if text.endswith("/") and self.path in ("", "/") else text
