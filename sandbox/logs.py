"""One log format for everything the sandbox process prints: its own records, uvicorn's,
FastMCP's (a rich console handler by default), MCP's and the mock IdP's."""

from __future__ import annotations

import asyncio
import logging

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
# uvicorn names its server logger "uvicorn.error" although it logs no errors there.
_RENAMED = {"uvicorn.error": "uvicorn"}


class _ShortNames(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.name = _RENAMED.get(record.name, record.name)
        return True


class SafeLines(logging.Filter):
    """What the log prints can neither leak a credential nor forge a line.

    uvicorn's access log printed whole request paths: the IdP's ``code`` and ``session_state``
    at ``/auth/callback``, the login form's ``session_code``, which the flow trace masks. They
    go through the trace's one masking policy (sandbox/trace/masking.py) here too. And a line
    break in anything a client sent (FastMCP logs a callback's ``state`` as it came) started a
    second, real-looking record; it is printed escaped, as ``\\n``. Tracebacks stay as they are.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) >= 3:
            from sandbox.trace.masking import mask_url  # only once a request was logged

            args = list(record.args)
            args[2] = mask_url(str(args[2]))
            record.args = tuple(args)
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed record: logging's own error report says so
            return True
        if "\n" in message or "\r" in message:
            record.msg, record.args = message.replace("\r", "\\r").replace("\n", "\\n"), None
        return True


class ShutdownCuts(logging.Filter):
    """uvicorn's records for the responses a shutdown cuts on purpose, for uvicorn.error
    once the shutdown has begun.

    Event streams (an MCP client's GET stream, the trace page's) never end by themselves, so
    a shutdown cuts them after its grace period, or at once on a second Ctrl-C. uvicorn logs
    each cut response as a traceback and the cut itself as an error; it is neither."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], asyncio.CancelledError):
            return False
        if record.msg == _UVICORN_CUT and record.levelno == logging.ERROR:
            record.levelno, record.levelname = logging.INFO, logging.getLevelName(logging.INFO)
        return True


# uvicorn 0.54's wording (uvicorn/server.py); tests/sandbox/test_cli.py notices a change.
_UVICORN_CUT = "Cancel %s running task(s), timeout graceful shutdown exceeded"


def configure_logging(level: str) -> None:
    """Every record through one root handler; call before uvicorn starts (with ``log_config=None``)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(_ShortNames())
    handler.addFilter(SafeLines())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # FastMCP gives its logger a rich handler of its own that does not propagate, when it
    # is first imported: import it now, so that happens before it is undone here.
    import fastmcp  # noqa: F401

    fastmcp_logger = logging.getLogger("fastmcp")
    for old in fastmcp_logger.handlers[:]:
        fastmcp_logger.removeHandler(old)
    fastmcp_logger.propagate = True
    # One line per outgoing request (JWKS, upstream token calls) drowns the useful ones.
    for name in ("httpx", "httpx2"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))


def one_line(exc: BaseException, *, named: bool = True, first_line: bool = False) -> str:
    """An exception for a one-line error: ``Type: message``, the message's line breaks collapsed.

    ``named=False`` leaves the type out, where the message alone already says it;
    ``first_line=True`` keeps only the message's first line (an engine's error, with a trace after it).
    """
    text = str(exc).strip()
    message = " ".join((text.splitlines()[:1] if first_line else [text])[0].split()) if text else ""
    if not named:
        return message
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
