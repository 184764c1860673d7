"""An MCP call's step is rendered when first read: the same masked step as one rendered at once."""

from __future__ import annotations

import json

from trace_support import hop, jwt, proxy_flow, record

from sandbox.trace.tracer import MAX_DEFERRED_BYTES

CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "greet", "arguments": {"name": "x"}}}


def authorized(make_tracer):
    """A tracer that has seen one authorization, and the access token it issued."""
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    flow = tracer.recorder.flows()[0]
    token = next(j for s in flow.steps if s.kind == "token_issued" for j in s.to_dict()["jwts"])
    return tracer, flow, token


def mcp_call(bearer: str, **headers: str):
    return hop(
        "POST",
        "/mcp",
        headers={"Authorization": f"Bearer {bearer}", "User-Agent": "test", "X-Other": "y", **headers},
    )


def finish_deferred(tracer, h, body: bytes) -> None:
    """What the middleware does for an MCP hop: the body is parsed only when the step is rendered."""
    h.seq = tracer.recorder.next_seq()

    def parse() -> None:
        h.json = json.loads(body)

    tracer.finish(h, request_body=parse, body_size=len(body))


def shown(step) -> dict:
    data = step.to_dict()
    return {k: v for k, v in data.items() if k not in ("seq", "rev", "time", "timestamp", "duration_ms")}


def test_a_deferred_call_renders_as_an_eager_one(make_tracer):
    tracer, flow, _ = authorized(make_tracer)
    bearer = jwt({"jti": "proxy-jti-1", "client_id": "client-1", "sub": "alice"})
    eager = mcp_call(bearer)
    eager.json, eager.seq = CALL, tracer.recorder.next_seq()
    tracer.finish(eager)  # no request_body: rendered at once, as every hop before
    finish_deferred(tracer, mcp_call(bearer), json.dumps(CALL).encode())
    first, second = flow.steps[-2], flow.steps[-1]
    assert first.render is None and second.render is not None  # the second waits for a reader
    assert shown(second) == shown(first)
    assert second.render is None  # rendered once, its raw hop let go
    assert shown(second)["note"] == "tools/call greet"
    assert bearer not in json.dumps(tracer.recorder.snapshot())  # masked like every step


def test_a_deferred_call_finds_the_flow_of_its_token(make_tracer):
    tracer, flow, token = authorized(make_tracer)
    access = next(h for h in proxy_flow(1) if h.path == "/token").response_json["access_token"]
    finish_deferred(tracer, mcp_call(access), json.dumps(CALL).encode())
    assert flow.steps[-1].kind == "mcp_call" and flow.steps[-1].to_dict()["jwts"][0]["claims"] == token["claims"]


def test_a_big_call_is_rendered_at_once(make_tracer):
    """Memory stays bounded: no raw hop over MAX_DEFERRED_BYTES waits in the history."""
    tracer, flow, _ = authorized(make_tracer)
    bearer = jwt({"jti": "proxy-jti-2", "client_id": "client-1", "pad": "p" * MAX_DEFERRED_BYTES})
    finish_deferred(tracer, mcp_call(bearer), json.dumps(CALL).encode())
    assert flow.steps[-1].render is None and flow.steps[-1].note == "tools/call greet"


def test_a_call_with_a_long_query_is_rendered_at_once(make_tracer):
    """The URL counts too: it is held twice (as sent, and as the parsed query)."""
    tracer, flow, _ = authorized(make_tracer)
    bearer = jwt({"jti": "proxy-jti-4", "client_id": "client-1"})
    call = hop("POST", "/mcp?q=" + "q" * (MAX_DEFERRED_BYTES // 2), headers={"Authorization": f"Bearer {bearer}"})
    finish_deferred(tracer, call, json.dumps(CALL).encode())
    assert flow.steps[-1].render is None and flow.steps[-1].note == "tools/call greet"


def test_a_step_that_cannot_be_rendered_leaves_the_other_views_standing(make_tracer, caplog):
    tracer, flow, _ = authorized(make_tracer)
    bearer = jwt({"jti": "proxy-jti-5", "client_id": "client-1"})
    finish_deferred(tracer, mcp_call(bearer), b"{not json")  # the parse runs only when read
    snapshot = tracer.recorder.snapshot()  # every flow, every step: no exception
    assert snapshot and flow.steps[-1].render is None
    assert flow.steps[-1].to_dict()["note"] == "(could not be shown: see the sandbox's log)"
    assert "could not render step" in caplog.text and bearer not in json.dumps(snapshot)


def test_only_the_shown_headers_are_kept(make_tracer):
    tracer, flow, _ = authorized(make_tracer)
    bearer = jwt({"jti": "proxy-jti-3", "client_id": "client-1"})
    h = mcp_call(bearer, Cookie="secret=1")
    finish_deferred(tracer, h, json.dumps(CALL).encode())
    assert sorted(h.headers) == ["authorization", "user-agent"]
    assert "header authorization" in flow.steps[-1].to_dict()["params"]
