"""Upstream mode: any MCP server (any language, Streamable HTTP or stdio) behind the OAuth proxy.

FastMCP's own proxy (``FastMCPProxy`` with a ``ProxyClient``) relays the protocol; this
package only configures it:

    identity.py  which headers carry the signed-in user upstream (rules from flags and a file)
    token.py     the optional short-lived JWT minted for the upstream, and the JWKS it is checked with
    server.py    the proxy server: transport, per-request identity, error messages, completions
    check.py     the start-up check that the upstream answers ``initialize``
"""
