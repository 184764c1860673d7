"""The trace's routes: the live page, JSON (all flows or one), Server-Sent Events, Mermaid, clear.

Plain Starlette routes: the sandbox app is Starlette's, not FastAPI's, whose import and route
analysis were a twelfth of the sandbox's start-up (issue 17) for handlers that take no body.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from html import escape as html_escape
from importlib.resources import files
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from mock_idp.digits import parse_decimal
from sandbox.trace.mermaid import participant_labels, to_mermaid
from sandbox.trace.recorder import FlowRecorder

PAGE = (files("sandbox") / "templates" / "trace.html").read_text(encoding="utf-8")
KEEP_ALIVE = 10.0
# An event stream ends after this long; EventSource reconnects with Last-Event-ID and misses nothing.
STREAM_LIFETIME = 120.0


class BadSince(ValueError):
    """``since`` that is not a revision: answered 400, since ignoring it would send everything."""


def _since(value: str | None) -> int:
    if value is None or value == "":
        return 0
    revision = parse_decimal(value)
    if revision is None:
        raise BadSince(f"since must be a revision number (a non-negative integer), got {value[:40]!r}")
    return revision


def _bad_since(exc: BadSince) -> JSONResponse:
    return JSONResponse({"error": "invalid_request", "error_description": str(exc)}, status_code=400)


def _not_found(flow_id: str) -> JSONResponse:
    return JSONResponse(
        {"error": "not_found", "error_description": f"no flow {flow_id!r} (unknown, or dropped from the history)"},
        status_code=404,
    )


PREFIX = "/sandbox/trace"


def trace_routes(recorder: FlowRecorder, *, replica: str | None = None) -> list[Route]:
    """``replica``: where this replica listens, when others share its public URL; the trace is
    not shared between replicas, so the page says whose hops it shows."""
    note = (
        f'<span id="replica">only the hops served by the replica at <b>{html_escape(replica)}</b>; '
        "each replica behind the load balancer records its own</span>"
        if replica
        else ""
    )

    async def page(request: Request) -> HTMLResponse:
        labels = json.dumps(participant_labels(recorder.mode))
        html = PAGE.replace("__MODE__", recorder.mode).replace("__LABELS__", labels)
        html = html.replace("__ENABLED__", "true" if recorder.enabled else "false").replace("__REPLICA__", note)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def all_flows(request: Request) -> JSONResponse:
        try:
            return JSONResponse(recorder.snapshot(_since(request.query_params.get("since"))))
        except BadSince as exc:
            return _bad_since(exc)

    async def clear(request: Request) -> JSONResponse:
        recorder.clear()
        return JSONResponse({"cleared": True})

    async def events(request: Request) -> Response:
        try:
            since = _since(request.headers.get("last-event-id") or request.query_params.get("since"))
        except BadSince as exc:
            return _bad_since(exc)
        return StreamingResponse(
            _event_stream(recorder, request, since),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def one_flow(request: Request) -> Response:
        flow_id = request.path_params["flow_id"]
        flow = recorder.get(flow_id)
        return _not_found(flow_id) if flow is None else JSONResponse(flow.to_dict())

    async def mermaid(request: Request) -> Response:
        flow_id = request.path_params["flow_id"]
        flow = recorder.get(flow_id)
        if flow is None:
            return _not_found(flow_id)
        return PlainTextResponse(
            to_mermaid(flow), headers={"Content-Disposition": f'inline; filename="flow-{flow_id}.mmd"'}
        )

    return [
        Route(PREFIX, page, methods=["GET"]),
        Route(f"{PREFIX}.json", all_flows, methods=["GET"]),
        Route(PREFIX, clear, methods=["DELETE"]),
        Route(f"{PREFIX}/events", events, methods=["GET"]),
        Route(f"{PREFIX}/{{flow_id}}.json", one_flow, methods=["GET"]),
        Route(f"{PREFIX}/{{flow_id}}.mmd", mermaid, methods=["GET"]),
    ]


def _sse(event: dict[str, Any], rev: int | None = None) -> str:
    head = f"id: {rev}\n" if rev else ""
    return f"{head}data: {json.dumps(event, separators=(',', ':'))}\n\n"


async def _event_stream(recorder: FlowRecorder, request: Request, since: int) -> AsyncIterator[str]:
    subscription = recorder.subscribe()
    deadline = time.monotonic() + STREAM_LIFETIME
    try:
        yield "retry: 1000\n\n"
        if since:
            missed = recorder.snapshot(since)["flows"]
            for step in sorted((s for flow in missed for s in flow["steps"]), key=lambda s: s["rev"]):
                yield _sse({"flow": {"id": step["flow_id"]}, "step": step}, step["rev"])
                # The subscription opened before the replay; what it replayed must not come twice.
                since = max(since, step["rev"])
        while time.monotonic() < deadline:
            try:
                async with asyncio.timeout(KEEP_ALIVE):
                    event = await subscription.get()
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": keep-alive\n\n"
                continue
            if event is None:
                return
            step = event.get("step")
            if step is not None and step["rev"] <= since:
                continue
            yield _sse(event, step["rev"] if step else None)
    finally:
        subscription.close()
