"""The process's one default TLS trust store: httpx2's default verification, parsed once.

Why: every httpx2 client made without ``verify=`` parses the CA bundle again (OpenSSL's
``load_verify_locations``, 15-30 ms of CPU), used or not: the mock IdP and most upstreams are
plain http. A context holds no per-user state, so the proxy's clients (its JWKS fetches,
the upstream MCP servers' clients) and the plugin's sign-ins share this one, as a browser
shares its trust store. OpenSSL parses without holding the GIL, so ``load_in_background``
has it parsed on the other core while start-up goes on.
"""

from __future__ import annotations

import ssl
import threading

import httpx2

_lock = threading.Lock()
_context: ssl.SSLContext | None = None


def default_trust_store() -> ssl.SSLContext:
    """httpx2's default verification context (certifi's bundle, SSL_CERT_FILE honoured), made once."""
    global _context
    with _lock:  # a caller arriving during the background parse waits for it, not parses again
        if _context is None:
            _context = httpx2.create_ssl_context()
        return _context


def load_in_background() -> None:
    """Start parsing the trust store on another thread, for a caller later in start-up."""
    threading.Thread(target=default_trust_store, name="sandbox-trust-store", daemon=True).start()
