"""What went wrong with the upstream, in one line for the MCP client.

A failure of the hop (unreachable, timed out, not MCP, a dropped stream, an exited process)
becomes one JSON-RPC error naming the upstream and the cause (:class:`UpstreamErrors`,
:func:`client_error`); an error the upstream itself answered passes through untouched.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import httpx2
import mcp_types
from fastmcp.exceptions import ToolError
from fastmcp.server.middleware import CallNext, Middleware, MiddlewareContext
from mcp.shared.exceptions import MCPError

from sandbox.logs import one_line

if TYPE_CHECKING:
    from sandbox.upstream.server import UpstreamTarget

log = logging.getLogger("sandbox.upstream")

# What the MCP SDK's client transports answer, as JSON-RPC errors of their own making, when the
# hop fails (an HTTP error, a body that is not MCP, a dropped stream). An error the upstream
# itself sent is anything else, and passes through untouched.
HOP_FAILURES: dict[str, str] = {
    "Unexpected content type: ": "answered {rest}, not MCP",
    "Failed to parse JSON response": "answered a body that is not JSON-RPC{rest}",
    "Failed to parse SSE message": "sent an event that is not JSON-RPC{rest}",
    "Server returned an error response": "answered with an HTTP error, not MCP",
    "Not Found": "answered HTTP 404: is the URL the MCP endpoint?",
    "Session terminated": "ended the MCP session",
    "SSE stream ended without a response": "closed the stream before answering",
    "SSE stream ended and reconnection attempts were exhausted": "dropped the stream mid-call and did not come back",
    "SSE stream failed: ": "dropped the stream ({rest})",
    "Connection closed": "closed the connection",
    "Client failed to connect: ": "{rest}",
}


_TIMED_OUT = re.compile(r"^Request '[^']*' timed out|^Timed out while waiting")
_HOP_EXCEPTIONS = (httpx2.HTTPError, OSError, RuntimeError, TimeoutError)


def hop_failure(message: str) -> str | None:
    """The cause, when ``message`` is the SDK transport's own error for a failed hop."""
    if _TIMED_OUT.match(message):
        return "timed out"
    for prefix, cause in HOP_FAILURES.items():
        if message.startswith(prefix):
            return cause.format(rest=message[len(prefix) :])
    return None


def failure_cause(target: UpstreamTarget, error: BaseException) -> str:
    """What went wrong with the upstream, in a few words (without naming it)."""
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for cause in chain:
        if isinstance(cause, FileNotFoundError):
            return f"command not found: {cause.filename or target.argv()[0]}"
        if isinstance(cause, (httpx2.ConnectError, ConnectionRefusedError)):
            return f"unreachable ({one_line(cause, named=False) or 'connection refused'})"
        if isinstance(cause, (httpx2.TimeoutException, TimeoutError)):
            return f"no answer within {target.timeout:g} s"
        if isinstance(cause, httpx2.HTTPStatusError):
            return f"answered HTTP {cause.response.status_code}, not MCP"
        if isinstance(cause, (httpx2.RemoteProtocolError, httpx2.ReadError)):
            return f"closed the connection ({one_line(cause, named=False) or type(cause).__name__})"
    text = one_line(error, named=False)
    if _TIMED_OUT.match(text):
        return f"no answer within {target.timeout:g} s"
    while (unwrapped := hop_failure(text)) is not None and unwrapped != text:
        text = unwrapped
    if target.command and "closed" in text.lower():
        return f"the process exited or closed its stdout ({text})"
    return text or type(error).__name__


def describe_failure(target: UpstreamTarget, error: BaseException) -> str:
    """One line for the MCP client: which upstream, what went wrong, what happens next."""
    message = f"{target.label}: {failure_cause(target, error)}"
    if target.command:
        where = f"; its stderr is in {target.stderr_log}" if target.stderr_log else ""
        message += f"; it is started again on the next call{where}"
    return message


class UpstreamErrors(Middleware):
    """Every failure to reach the upstream becomes one JSON-RPC error naming it.

    An error the upstream itself answered (a JSON-RPC error such as an unknown tool) is
    passed through as it is; only failures of the hop are rewritten.
    """

    def __init__(self, target: UpstreamTarget) -> None:
        self.target = target

    async def on_request(self, context: MiddlewareContext[Any], call_next: CallNext[Any, Any]) -> Any:
        try:
            return await call_next(context)
        except Exception as exc:
            # FastMCP has already turned a failing tool call into a ToolError (an isError
            # result); keep that shape, with the hop's cause named.
            cause = exc.__cause__ if isinstance(exc, ToolError) and exc.__cause__ is not None else exc
            if not is_hop_failure(cause):
                raise
            message = describe_failure(self.target, cause)
            log.warning("%s: %s", context.method, message)
            if isinstance(exc, ToolError):
                raise ToolError(message) from cause
            raise MCPError(code=mcp_types.INTERNAL_ERROR, message=message) from cause


def client_error(target: UpstreamTarget, error: Exception) -> Exception:
    """``error`` itself when the upstream answered it; else one JSON-RPC error naming the failed hop."""
    if not is_hop_failure(error):
        return error
    message = describe_failure(target, error)
    log.warning("%s", message)
    return MCPError(code=mcp_types.INTERNAL_ERROR, message=message)


def is_hop_failure(error: BaseException) -> bool:
    if isinstance(error, MCPError):
        return hop_failure(error.error.message) is not None
    return isinstance(error, _HOP_EXCEPTIONS)
