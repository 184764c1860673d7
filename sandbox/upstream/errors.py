"""The one error upstream mode raises at start-up, apart from the modules that raise it.

Here so that the CLI and the pytest plugin can catch it without importing FastMCP's client
and proxy (``server.py``), which only upstream mode needs (issue 17: start-up imports).
"""


class UpstreamError(Exception):
    """The upstream cannot be used; the message is one line naming it and the cause."""
