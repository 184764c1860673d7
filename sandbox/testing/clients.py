"""What ``mcp_client`` hands out: FastMCP clients that sign in headlessly as a realm user."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from sandbox.testing.stack import SandboxStack

if TYPE_CHECKING:
    from sandbox.testing.key_rotation import SignInClient


class UnknownSandboxUser(LookupError):
    """mcp_client() was asked for a user whose password the sandbox does not know."""


class SignInClients:
    """``clients("bob", ...)``: an unconnected client for one user; closes the documents it hosted."""

    def __init__(self, sandbox: SandboxStack) -> None:
        self.sandbox = sandbox
        self.hosted_documents = contextlib.ExitStack()

    def __call__(
        self,
        user: str = "alice",
        *,
        password: str | None = None,
        consent: Literal["approve", "deny"] = "approve",
        registration: Literal["dcr", "cimd"] = "dcr",
        scopes: list[str] | None = None,
        **client_kwargs: Any,
    ) -> SignInClient:
        """The OAuth flow runs headless on first use (registration, the proxy's consent, the IdP's
        login form). ``password`` (default: the realm file's, or the one given to
        ``idp.create_user``), ``consent="approve"|"deny"``, ``registration="dcr"|"cimd"``
        (``cimd``: the client's id is the URL of a metadata document hosted on loopback HTTPS for
        the test, with a certificate from the sandbox's CA), ``scopes=[...]`` (asked for in every
        authorization besides what the server's challenge names, so ``["mcp:admin"]`` needs no
        step-up), and anything ``fastmcp.Client`` takes (``timeout=``...). Each client has its
        own token store. Unless ``verify=`` is given, every client verifies TLS with the one
        default trust store the process loaded (sandbox/trust_store.py): FastMCP's client
        would parse the CA bundle again for each of its HTTP clients, three per sign-in, ~30 ms
        of CPU each (issue 17).
        """
        from key_value.aio.stores.memory import MemoryStore

        from sandbox.testing.headless import HeadlessBrowser, HeadlessOAuth
        from sandbox.testing.key_rotation import SignInClient
        from sandbox.trust_store import default_trust_store

        if password is None:
            password = self.password_of(user)
        if registration not in ("dcr", "cimd"):
            raise ValueError(f"registration must be 'dcr' or 'cimd', not {registration!r}")
        metadata_url = (
            self.hosted_documents.enter_context(client_document(self.sandbox, user)) if registration == "cimd" else None
        )
        auth = HeadlessOAuth(
            HeadlessBrowser(user, password, consent=consent, scopes=scopes),
            token_storage=MemoryStore(),
            client_metadata_url=metadata_url,
        )
        client_kwargs.setdefault("verify", default_trust_store())
        return SignInClient(
            self.sandbox.mcp_url, auth=auth, user=user, rotations=self.sandbox.key_rotations, **client_kwargs
        )

    def password_of(self, user: str) -> str:
        credentials = self.sandbox.credentials
        password = credentials.get(user) or credentials.get(user.lower())
        if password is None:
            known = ", ".join(sorted(credentials)) or "none"
            raise UnknownSandboxUser(
                f"no user {user!r} in realm {self.sandbox.realm!r} that the sandbox knows a password for "
                f"(known: {known}); create one with idp.create_user(...) or pass password=..."
            )
        return password

    def close(self) -> None:
        self.hosted_documents.close()


@contextlib.contextmanager
def client_document(sandbox: SandboxStack, user: str) -> Iterator[str]:
    """A metadata document for one mcp_client, on loopback HTTPS; yields its URL (the client_id)."""
    from sandbox.testing.cimd import hosted_client_metadata
    from sandbox.tls import LocalCA

    document = {
        "client_name": f"pytest mcp_client ({user})",
        # FastMCP's client listens on a random port; RFC 8252 loopback redirects allow any.
        "redirect_uris": ["http://localhost:*/callback", "http://127.0.0.1:*/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    with hosted_client_metadata(LocalCA(sandbox.settings.tls_dir), document) as hosted:
        yield hosted.url
