"""The process's one default TLS trust store: httpx2's default verification, parsed once.

Why: every httpx2 client made without ``verify=`` parses the CA bundle again (OpenSSL's
``load_verify_locations``, 15-30 ms of CPU), used or not: the mock IdP and most upstreams are
plain http. A context holds no per-user state, so the proxy's clients (its JWKS fetches,
the upstream MCP servers' clients) and the plugin's sign-ins share this one, as a browser
shares its trust store. OpenSSL parses without holding the GIL, so ``load_in_background``
has it parsed on the other core while start-up goes on.

It is httpx2's default: the system CA paths, or ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` as set
when it is first loaded (read once per process, as a browser reads its store once). Nothing
may change it after (``load_verify_locations``, ALPN): every client of the process would see
the change; a test wanting other trust passes its own ``verify=``.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import threading

import httpx2

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


class TrustStoreError(Exception):
    """The CA bundle could not be loaded; the message names the variable that points to it."""


def default_trust_store() -> ssl.SSLContext:
    """httpx2's default verification context, made once; :class:`TrustStoreError` if it cannot be."""
    global _context
    if _context is not None:
        return _context
    with _lock:  # a caller arriving during the background parse waits for it, not parses again
        if _context is None:
            try:
                _context = httpx2.create_ssl_context()
            except (OSError, ssl.SSLError) as exc:
                raise TrustStoreError(f"cannot load the TLS trust store{_pointed_to()}: {exc}") from None
        return _context


def load_in_background() -> None:
    """Start parsing the trust store on another thread, for a caller later in start-up.

    A failure is left to that caller, which meets it again as a :class:`TrustStoreError`. No
    daemon: the interpreter stops a daemon thread at exit wherever it is (mock_idp/keys.py)."""
    threading.Thread(target=_load_quietly, name="sandbox-trust-store").start()


def _load_quietly() -> None:
    with contextlib.suppress(TrustStoreError):  # raised again, with the same message, where it is first wanted
        default_trust_store()


def _pointed_to() -> str:
    named = [f"{name}={os.environ[name]}" for name in ("SSL_CERT_FILE", "SSL_CERT_DIR") if os.environ.get(name)]
    return f" ({', '.join(named)})" if named else ""


def _unlock_in_child() -> None:
    # A fork while the parse held the lock would leave the child waiting on it for ever.
    global _lock
    _lock = threading.Lock()


os.register_at_fork(after_in_child=_unlock_in_child)
