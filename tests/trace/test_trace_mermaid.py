"""Mermaid export: a valid ``sequenceDiagram`` with the four participants and two arrows per HTTP hop."""

import re

from trace_support import proxy_flow, record

from sandbox.trace.mermaid import to_mermaid

STATEMENT = re.compile(
    r"^(sequenceDiagram|    autonumber|    participant [CBPI] as [^;#]+|    [CBPI](->>|-->>|-\))[CBPI]: [^;]*|    Note over [CBPI],[CBPI]: [^;]*)$"
)


def test_a_flow_exports_as_a_sequence_diagram(make_tracer):
    tracer = make_tracer()
    for h in proxy_flow(1):
        record(tracer, h)
    (flow,) = tracer.recorder.flows()
    text = to_mermaid(flow)
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "sequenceDiagram"
    assert [line for line in lines if line.startswith("    participant")] == [
        "    participant C as MCP client",
        "    participant B as Browser",
        "    participant P as OAuth proxy + MCP server",
        "    participant I as IdP",
    ]
    for line in lines:
        assert STATEMENT.match(line), line
    assert "    C->>P: POST /mcp" in lines
    assert "    P->>I: POST /idp/realms/sandbox/protocol/openid-connect/token" in lines
    assert "    B->>I: POST /idp/realms/sandbox/login-actions/authenticate" in lines
    assert any(line.startswith("    Note over C,P: 401 + WWW-Authenticate · RFC 9728 §5.1") for line in lines)
    # 14 HTTP hops (two arrows each) + 2 synthetic steps (one arrow each), one note per step
    assert sum(1 for line in lines if re.match(r"    [CBPI](->>|-->>|-\))", line)) == 13 * 2 + 2
    assert sum(1 for line in lines if line.startswith("    Note over")) == 15


def test_message_text_cannot_break_the_diagram(make_tracer):
    tracer = make_tracer()
    hops = proxy_flow(1)
    hops[0].response_headers["www-authenticate"] = 'Bearer error="a;b#c", x=<y>'
    for h in hops:
        record(tracer, h)
    text = to_mermaid(tracer.recorder.flows()[0])
    first_response = text.split("\n")[7]
    assert first_response.startswith("    P-->>C: 401 WWW-Authenticate: Bearer")
    assert ";" not in first_response.replace("#59;", "").replace("#35;", "").replace("#lt;", "").replace("#gt;", "")
    assert "#59;" in first_response and "#lt;" in first_response


def test_native_mode_names_the_server_without_a_proxy(make_tracer):
    tracer = make_tracer("native-dcr")
    record(tracer, proxy_flow(1)[0])
    assert "participant P as MCP server (no proxy)" in to_mermaid(tracer.recorder.flows()[0])
