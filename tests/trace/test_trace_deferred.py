"""An MCP call passes the middleware raw and is rendered when first read: the same masked step
as one rendered at once, its body taken from the body limits (or captured where they are not)."""

from __future__ import annotations

import asyncio
import json

import pytest
from trace_support import hop, jwt, proxy_flow, record

from sandbox.limits import BodyLimits
from sandbox.trace.middleware import TraceMiddleware
from sandbox.trace.tracer import MAX_DEFERRED_BYTES
from sandbox.trace.wire import CALL_HEADERS, MAX_MCP_BODY, RawCall

CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "greet", "arguments": {"name": "x"}}}
SSE = [(b"content-type", b"text/event-stream"), (b"mcp-session-id", b"s-1"), (b"cache-control", b"no-cache")]


def authorized(make_tracer):
    """A tracer that has seen one authorization, its flow, and the access token it issued."""
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    access = next(h for h in proxy_flow(1) if h.path == "/token").response_json["access_token"]
    return tracer, tracer.recorder.flows()[0], access


class Spied(BodyLimits):
    """The body limits, remembering the receive the trace handed them."""

    async def __call__(self, scope, receive, send) -> None:
        self.receive = receive
        await super().__call__(scope, receive, send)


def app(status: int = 200, headers=SSE, *, checks=None):
    """An MCP endpoint: reads the whole body, answers with a stream start, then one event."""

    async def endpoint(scope, receive, send) -> None:
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if checks:
            checks()
        await send({"type": "http.response.body", "body": b"data: {}\n\n", "more_body": False})

    return endpoint


def serve(middleware, bearer: str | None, body: bytes, *, query: bytes = b"", chunks: int = 1, **headers: str):
    """One POST /mcp through ``middleware``; returns the server's own receive."""
    raw = [(b"host", b"localhost:8000"), (b"content-type", b"application/json"), (b"user-agent", b"test")]
    raw += [(b"cookie", b"secret=1"), (b"x-other", b"y")]
    raw += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    if bearer:
        raw.append((b"authorization", f"Bearer {bearer}".encode()))
    step = -(-len(body) // chunks) or 1
    messages = [
        {"type": "http.request", "body": body[i : i + step], "more_body": i + step < len(body)}
        for i in range(0, max(len(body), 1), step)
    ]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/mcp",
        "root_path": "",
        "scheme": "http",
        "query_string": query,
        "headers": raw,
        "client": ("127.0.0.1", 50000),
    }

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message) -> None:
        pass

    asyncio.run(middleware(scope, receive, send))
    return receive


def shown(step) -> dict:
    data = step.to_dict()
    return {k: v for k, v in data.items() if k not in ("seq", "rev", "time", "timestamp", "duration_ms")}


@pytest.mark.parametrize("limits", [True, False], ids=["body-from-the-limits", "body-captured"])
def test_a_deferred_call_renders_as_an_eager_one(make_tracer, limits):
    tracer, flow, access = authorized(make_tracer)
    eager = hop(
        "POST",
        "/mcp",
        headers={"Authorization": f"Bearer {access}", "User-Agent": "test", "Host": "localhost:8000"},
        json_body=CALL,
    )
    eager.response_headers = {"content-type": "text/event-stream", "mcp-session-id": "s-1"}
    eager.seq = tracer.recorder.next_seq()
    tracer.finish(eager)  # rendered at once, as every hop before
    inner = app()
    serve(
        TraceMiddleware(BodyLimits(inner, mcp_path="/mcp") if limits else inner, tracer),
        access,
        json.dumps(CALL).encode(),
    )
    first, second = flow.steps[-2], flow.steps[-1]
    assert first.render is None and isinstance(second.render, RawCall)  # the second waits for a reader
    assert second.duration_ms is None  # rendered too, from the raw measurement
    assert shown(second) == shown(first)
    assert second.render is None and second.duration_ms is not None  # rendered once, its raw call let go
    assert shown(second)["note"] == "tools/call greet"
    assert shown(second)["params"]["jsonrpc_method"] == "tools/call" and shown(second)["params"]["name"] == "greet"
    assert access not in json.dumps(tracer.recorder.snapshot())  # masked like every step


def test_behind_the_body_limits_the_call_takes_their_body_and_leaves_receive_alone(make_tracer):
    tracer, flow, access = authorized(make_tracer)
    limits = Spied(app(), mcp_path="/mcp")
    server_receive = serve(TraceMiddleware(limits, tracer), access, json.dumps(CALL).encode(), chunks=3)
    assert limits.receive is server_receive  # no second reader of the body
    assert flow.steps[-1].to_dict()["note"] == "tools/call greet"


def test_without_the_body_limits_the_body_is_captured_whole_or_not_at_all(make_tracer):
    tracer, flow, access = authorized(make_tracer)
    middleware = TraceMiddleware(app(), tracer)
    serve(middleware, access, json.dumps(CALL).encode(), chunks=3)
    assert flow.steps[-1].to_dict()["note"] == "tools/call greet"
    big = {**CALL, "params": {"name": "greet", "arguments": {"name": "x" * MAX_MCP_BODY}}}
    serve(middleware, access, json.dumps(big).encode(), chunks=3)
    assert flow.steps[-1].kind == "mcp_call" and "jsonrpc_method" not in flow.steps[-1].to_dict()["params"]


def test_a_body_over_the_call_limit_is_not_kept_from_the_limits_either(make_tracer):
    tracer, flow, access = authorized(make_tracer)
    big = {**CALL, "params": {"name": "greet", "arguments": {"name": "x" * MAX_MCP_BODY}}}
    serve(TraceMiddleware(BodyLimits(app(), mcp_path="/mcp"), tracer), access, json.dumps(big).encode())
    assert flow.steps[-1].render.body is None
    assert "jsonrpc_method" not in flow.steps[-1].to_dict()["params"]


def test_a_call_is_recorded_at_its_response_start_with_the_seq_of_its_request_start(make_tracer):
    tracer, flow, access = authorized(make_tracer)
    seen = []
    inner = app(checks=lambda: seen.append((len(flow.steps), tracer.recorder.next_seq())))
    before = len(flow.steps)
    serve(TraceMiddleware(BodyLimits(inner, mcp_path="/mcp"), tracer), access, json.dumps(CALL).encode())
    (steps_at_start, seq_inside) = seen[0]
    assert steps_at_start == before + 1  # the stream still open, the call already recorded
    assert flow.steps[-1].seq < seq_inside  # it sorts before what started while it was served


def test_live_subscribers_get_the_rendered_call(make_tracer):
    tracer, _, access = authorized(make_tracer)

    async def run():
        subscription = tracer.recorder.subscribe()
        middleware = TraceMiddleware(BodyLimits(app(), mcp_path="/mcp"), tracer)
        scope_body = json.dumps(CALL).encode()
        await asyncio.to_thread(serve, middleware, access, scope_body)
        return await asyncio.wait_for(subscription.get(), 5)

    event = asyncio.run(run())
    assert event["step"]["kind"] == "mcp_call" and event["step"]["note"] == "tools/call greet"


def test_only_the_shown_headers_are_kept(make_tracer):
    tracer, flow, access = authorized(make_tracer)
    serve(TraceMiddleware(BodyLimits(app(), mcp_path="/mcp"), tracer), access, json.dumps(CALL).encode())
    call = flow.steps[-1].render
    assert set(call.headers) <= CALL_HEADERS and b"cookie" not in call.headers and b"x-other" not in call.headers
    assert "header authorization" in flow.steps[-1].to_dict()["params"]


def test_a_big_call_is_rendered_at_once(make_tracer):
    """Memory stays bounded: no raw call over MAX_DEFERRED_BYTES waits in the history."""
    tracer, flow, access = authorized(make_tracer)
    middleware = TraceMiddleware(BodyLimits(app(), mcp_path="/mcp"), tracer)
    serve(middleware, access, json.dumps(CALL).encode(), user_agent="u" * MAX_DEFERRED_BYTES)
    assert flow.steps[-1].render is None and flow.steps[-1].note == "tools/call greet"


def test_a_call_with_a_long_query_is_rendered_at_once(make_tracer):
    """The query counts twice: it is held as sent, and parsed when rendered."""
    tracer, flow, access = authorized(make_tracer)
    middleware = TraceMiddleware(BodyLimits(app(), mcp_path="/mcp"), tracer)
    serve(middleware, access, json.dumps(CALL).encode(), query=b"q=" + b"q" * (MAX_DEFERRED_BYTES // 2))
    assert flow.steps[-1].render is None and flow.steps[-1].note == "tools/call greet"


def test_a_refused_call_is_an_authorization_step_at_once(make_tracer):
    tracer = make_tracer()
    challenge = [(b"www-authenticate", b'Bearer resource_metadata="http://localhost:8000/x"')]
    serve(TraceMiddleware(BodyLimits(app(401, challenge), mcp_path="/mcp"), tracer), None, json.dumps(CALL).encode())
    (step,) = tracer.recorder.flows()[0].steps
    assert step.kind == "unauthorized" and step.render is None and step.note.startswith("WWW-Authenticate: Bearer")


def test_a_step_that_cannot_be_rendered_leaves_the_other_views_standing(make_tracer, caplog, monkeypatch):
    tracer, flow, access = authorized(make_tracer)
    serve(TraceMiddleware(BodyLimits(app(), mcp_path="/mcp"), tracer), access, json.dumps(CALL).encode())

    def broken(call):
        raise ValueError("cannot")

    monkeypatch.setattr(RawCall, "hop", broken)  # the hop is built only when read
    snapshot = tracer.recorder.snapshot()  # every flow, every step: no exception
    assert snapshot and flow.steps[-1].render is None
    assert flow.steps[-1].to_dict()["note"] == "(could not be shown: see the sandbox's log)"
    assert "could not render step" in caplog.text and access not in json.dumps(snapshot)


def test_a_call_of_an_unknown_token_of_a_known_client_joins_by_client_id(make_tracer):
    tracer, flow, _ = authorized(make_tracer)
    other = jwt({"jti": "not-issued-here", "client_id": "client-1"})
    serve(TraceMiddleware(BodyLimits(app(), mcp_path="/mcp"), tracer), other, json.dumps(CALL).encode())
    assert (
        flow.steps[-1].kind == "mcp_call" and flow.steps[-1].to_dict()["jwts"][0]["claims"]["jti"] == "not-issued-here"
    )


@pytest.mark.parametrize("behind_limits", [True, False], ids=["from-the-limits", "captured"])
def test_a_body_no_step_shows_is_not_held(make_tracer, behind_limits):
    """As for an OAuth hop, only a JSON or form body is kept: any other stays with the app."""
    tracer, flow, access = authorized(make_tracer)
    inner = BodyLimits(app(), mcp_path="/mcp") if behind_limits else app()
    serve(TraceMiddleware(inner, tracer), access, b"password=hunter2&client_secret=s3cr3t", content_type="text/plain")
    assert flow.steps[-1].render.body is None


def test_a_call_with_a_query_is_not_steered_into_another_flow_by_its_body(make_tracer):
    tracer = make_tracer()
    for n in (1, 2):
        for h in proxy_flow(n):
            record(tracer, h)
    second, first = tracer.recorder.flows()
    access = next(h for h in proxy_flow(1) if h.path == "/token").response_json["access_token"]
    steering = {**CALL, "state": "txn-2-abcdefghijklmnopqrstuvwxyz"}  # the second flow's transaction
    before = len(first.steps), len(second.steps)
    serve(
        TraceMiddleware(BodyLimits(app(), mcp_path="/mcp"), tracer), access, json.dumps(steering).encode(), query=b"x=1"
    )
    assert (len(first.steps), len(second.steps)) == (before[0] + 1, before[1])
