"""An MCP call's flow by its Authorization value: remembered per token, never past what
``flow_for`` would answer (an evicted flow, a cleared trace, a key bound anew or forgotten)."""

from __future__ import annotations

import base64

from trace_support import hop, jwt, proxy_flow, record

from sandbox.trace.correlate import MAX_REMEMBERED_AUTHORIZATION
from sandbox.trace.hops import Hop
from sandbox.trace.masking import jwt_parts


def access_of(n: int) -> str:
    return next(h for h in proxy_flow(n) if h.path == "/token").response_json["access_token"]


def jwt_jti(token: str) -> str:
    parts = jwt_parts(token)
    assert parts is not None
    return str(parts[1]["jti"])


def authorization(token: str) -> bytes:
    return f"Bearer {token}".encode()


def flow_for(tracer, value: bytes | None):
    """What the correlator answers for a query-less MCP hop carrying only this Authorization."""
    headers = {} if value is None else {"authorization": value.decode("latin-1")}
    call = Hop(method="POST", url="", path="/mcp", query={}, headers=headers, seq=0, started=0.0)
    return tracer.correlator.flow_for(call, "mcp_call")


def test_call_flow_answers_as_flow_for_again_and_again(make_tracer):
    tracer = make_tracer()
    for n in (1, 2):
        for h in proxy_flow(n):
            record(tracer, h)
    values = [
        authorization(access_of(1)),
        authorization(access_of(2)),
        authorization(jwt({"client_id": "client-2", "jti": "never-issued"})),  # by its client
        authorization("not-a-jwt-at-all"),
        b"Basic " + base64.b64encode(b"client-1:secret"),
        b"Bearer",
        None,
    ]
    for _ in range(3):  # the first asks the keys; the others may be remembered
        for value in values:
            assert tracer.correlator.call_flow(value) is flow_for(tracer, value), value
    first, second = (f for f in reversed(tracer.recorder.flows()))
    assert tracer.correlator.call_flow(values[0]) is first and tracer.correlator.call_flow(values[1]) is second


def test_a_remembered_call_does_not_return_a_cleared_flow(make_tracer):
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    value = authorization(access_of(1))
    flow = tracer.correlator.call_flow(value)
    assert flow is not None
    tracer.recorder.clear()
    assert tracer.correlator.call_flow(value) is None and flow_for(tracer, value) is None


def test_a_remembered_call_does_not_return_an_evicted_flow(make_tracer):
    tracer = make_tracer(max_flows=1)
    for h in proxy_flow(1):
        record(tracer, h)
    value = authorization(access_of(1))
    first = tracer.correlator.call_flow(value)
    for h in proxy_flow(2):  # a second authorization pushes the first out of the history
        record(tracer, h)
    assert first.evicted
    again = tracer.correlator.call_flow(value)
    assert again is not first and again is flow_for(tracer, value)


def test_a_token_bound_anew_is_followed(make_tracer):
    tracer = make_tracer()
    for n in (1, 2):
        for h in proxy_flow(n):
            record(tracer, h)
    token = access_of(1)
    first = tracer.correlator.call_flow(authorization(token))
    second = tracer.recorder.flows()[0]
    assert first is not second
    # The same token handed out again in the second flow: its key now names that flow.
    reissue = hop("POST", "/token", form={"grant_type": "refresh_token"}, response_json={"access_token": token})
    tracer.correlator.bind(second, reissue, "refresh")
    assert tracer.correlator.call_flow(authorization(token)) is second is flow_for(tracer, authorization(token))


def test_a_forgotten_key_is_not_remembered_past(make_tracer):
    tracer = make_tracer()
    tracer.correlator.max_keys = 40
    for h in proxy_flow(1):
        record(tracer, h)
    first = tracer.recorder.flows()[0]
    orphan = jwt({"jti": "orphan-1"})  # no client: once its key is forgotten, nothing leads to its flow
    tracer.correlator.bind(first, hop("POST", "/token", response_json={"access_token": orphan}), "token_exchange")
    value = authorization(orphan)
    assert tracer.correlator.call_flow(value) is first
    for n in range(2, 12):  # enough keys to forget the oldest half, the orphan's among them
        for h in proxy_flow(n):
            record(tracer, h)
    assert not first.evicted
    assert tracer.correlator.call_flow(value) is flow_for(tracer, value) is not first


def test_an_oversized_authorization_is_looked_up_but_not_kept(make_tracer):
    """A bound jti padded to a header's limit: answered as flow_for would, never held (memory)."""
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    jti = jwt_jti(access_of(1))
    padded = authorization(jwt({"jti": jti, "padding": "x" * (MAX_REMEMBERED_AUTHORIZATION + 1)}))
    for _ in range(3):
        assert tracer.correlator.call_flow(padded) is flow_for(tracer, padded) is not None
    assert padded not in tracer.correlator._calls
    assert tracer.correlator.call_flow(authorization(access_of(1))) is not None
    assert len(tracer.correlator._calls) == 1


def test_a_cleared_flow_s_tokens_are_let_go(make_tracer):
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    value = authorization(access_of(1))
    assert tracer.correlator.call_flow(value) is not None
    tracer.recorder.clear()
    tracer.correlator.call_flow(value)
    assert value not in tracer.correlator._calls
