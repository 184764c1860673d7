"""Correlation: every hop of an authorization lands in one flow, concurrent authorizations in two."""

import random

from trace_support import IDP, hop, jwt, proxy_flow, record

PROXY_KINDS = [
    "unauthorized",
    "prm_discovery",
    "as_metadata",
    "registration",
    "authorize",
    "consent_shown",
    "consent_decided",
    "upstream_redirect",
    "idp_authorize",
    "idp_login",
    "callback",
    "upstream_token_exchange",
    "token_exchange",
    "token_issued",
    "mcp_call",
]


def test_one_authorization_through_the_proxy_is_one_flow_in_order(make_tracer):
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    flows = tracer.recorder.flows()
    assert len(flows) == 1
    flow = flows[0]
    assert [s.kind for s in flow.steps] == PROXY_KINDS
    assert flow.client_id == "client-1" and flow.user == "alice"
    legs = {s.kind: s.to_dict()["leg"] for s in flow.steps}
    assert legs["unauthorized"] == "client↔proxy"
    assert legs["idp_login"] == "browser↔IdP"
    assert legs["upstream_token_exchange"] == "proxy↔IdP"
    assert legs["authorize"] == "browser↔proxy"


def test_interleaved_authorizations_stay_apart(make_tracer):
    tracer = make_tracer()
    first, second = proxy_flow(1, "alice"), proxy_flow(2, "bob")
    # Interleave the two scripts hop by hop, in a shuffled but per-flow ordered way.
    rng = random.Random(7)
    queues = [list(first), list(second)]
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        record(tracer, queue.pop(0))
    flows = sorted(tracer.recorder.flows(), key=lambda f: f.client_id)
    assert [f.client_id for f in flows] == ["client-1", "client-2"]
    assert [f.user for f in flows] == ["alice", "bob"]
    for flow in flows:
        assert sorted(s.kind for s in flow.steps) == sorted(PROXY_KINDS)


def test_refresh_and_later_calls_join_the_flow_of_the_tokens_they_carry(make_tracer):
    tracer = make_tracer()
    hops = proxy_flow(1)
    for h in hops:
        record(tracer, h)
    refresh = jwt({"client_id": "client-1", "jti": "rt-1"})
    new_access = jwt({"client_id": "client-1", "jti": "at-1b"})
    record(
        tracer,
        hop(
            "POST",
            "/token",
            form={"grant_type": "refresh_token", "refresh_token": refresh},
            response_json={"access_token": new_access},
        ),
    )
    record(
        tracer,
        hop("POST", "/mcp", headers={"Authorization": f"Bearer {new_access}"}, json_body={"method": "tools/list"}),
    )
    record(tracer, hop("POST", "/revoke", form={"token": refresh}))
    (flow,) = tracer.recorder.flows()
    assert [s.kind for s in flow.steps][-3:] == ["refresh", "mcp_call", "revocation"]


def test_a_call_with_an_unknown_token_of_a_known_client_joins_by_client_id(make_tracer):
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    stranger = jwt({"client_id": "client-1", "jti": "never-seen"})
    record(tracer, hop("POST", "/mcp", headers={"Authorization": f"Bearer {stranger}"}, json_body={"method": "ping"}))
    assert len(tracer.recorder.flows()) == 1


def test_a_new_401_opens_a_new_flow(make_tracer):
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    record(tracer, hop("POST", "/mcp", status=401, peer="127.0.0.1:41001"))
    assert len(tracer.recorder.flows()) == 2


def test_native_mode_flow_registers_and_exchanges_at_the_idp(make_tracer):
    tracer = make_tracer("native-dcr")
    peer, browser = "127.0.0.1:41000", "127.0.0.1:42000"
    access = jwt(
        {"iss": "http://localhost:8000/idp/realms/sandbox", "azp": "dcr-1", "jti": "n-at", "preferred_username": "bob"}
    )
    hops = [
        hop("POST", "/mcp", status=401, peer=peer),
        hop("GET", "/.well-known/oauth-protected-resource/mcp", response_json={}, peer=peer),
        hop("GET", "/.well-known/oauth-authorization-server/idp/realms/sandbox", status=404, peer=peer),
        hop("GET", f"{IDP}/.well-known/openid-configuration", response_json={}, peer=peer),
        hop(
            "POST",
            f"{IDP}/clients-registrations/openid-connect",
            status=201,
            json_body={"redirect_uris": []},
            response_json={"client_id": "dcr-1"},
            peer=peer,
        ),
        hop(
            "GET",
            f"{IDP}/protocol/openid-connect/auth?client_id=dcr-1&state=cs&code_challenge=x&code_challenge_method=S256",
            response_text='<form action="x?session_code=sess123456789012345678">',
            peer=browser,
        ),
        hop(
            "POST",
            f"{IDP}/login-actions/authenticate?session_code=sess123456789012345678",
            status=302,
            form={"username": "bob", "password": "pw"},
            location="http://localhost:5555/callback?code=native-code-abcdefghijklmnopq&state=cs",
            peer=browser,
        ),
        hop(
            "POST",
            f"{IDP}/protocol/openid-connect/token",
            form={"grant_type": "authorization_code", "code": "native-code-abcdefghijklmnopq", "client_id": "dcr-1"},
            response_json={"access_token": access},
            peer=peer,
        ),
        hop(
            "POST",
            "/mcp",
            headers={"Authorization": f"Bearer {access}"},
            json_body={"method": "tools/call", "params": {"name": "greet"}},
            peer=peer,
        ),
    ]
    for h in hops:
        record(tracer, h)
    (flow,) = tracer.recorder.flows()
    assert [s.kind for s in flow.steps] == [
        "unauthorized",
        "prm_discovery",
        "as_metadata",
        "as_metadata",
        "registration",
        "idp_authorize",
        "idp_login",
        "token_exchange",
        "token_issued",
        "mcp_call",
    ]
    legs = [s.to_dict("native-dcr")["leg"] for s in flow.steps]
    assert legs[4] == "client↔IdP" and legs[7] == "client↔IdP" and legs[-1] == "client↔MCP server"
    assert flow.client_id == "dcr-1" and flow.user == "bob"


def test_untraced_paths_and_unrelated_background_hops_record_nothing(make_tracer):
    tracer = make_tracer()
    assert not tracer.classifier.traced("/sandbox/trace.json")
    assert not tracer.classifier.traced("/healthz")
    assert not tracer.classifier.traced("/mcp-not-really")
    record(tracer, hop("GET", f"{IDP}/protocol/openid-connect/certs", response_json={"keys": []}))
    assert tracer.recorder.flows() == []
